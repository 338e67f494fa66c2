//! The InfluxDB schema of a quote point: the measurement, tag and field names that
//! [`crate::Quote::write_line_protocol`] writes, for readers that query them (Grafana's panels and
//! alert rules). The encoder is built from the same names (the macros below), so a rename here
//! changes both.

/// Defines a name once as a macro (so the encoder can `concat!` it into one byte literal) and as a
/// public constant.
macro_rules! names {
    ($($(#[$doc:meta])* $name:ident => $macro:ident = $text:literal;)*) => {
        $(
            macro_rules! $macro { () => { $text }; }
            pub(crate) use $macro;
            $(#[$doc])*
            pub const $name: &str = $macro!();
        )*
    };
}

names! {
    /// The measurement of every quote point.
    MEASUREMENT => measurement = "quote";
    /// Tag: the ISO-4217 currency.
    TAG_CURRENCY => tag_currency = "currency";
    /// Tag: the scraper source's name.
    TAG_SOURCE => tag_source = "source";
    /// Tag: the ticker symbol.
    TAG_SYMBOL => tag_symbol = "symbol";
    /// Float field: the day's change in percent.
    FIELD_CHANGE_PCT => field_change_pct = "change_pct";
    /// Float field: the price.
    FIELD_PRICE => field_price = "price";
    /// Integer field: the session volume (absent when the source has none).
    FIELD_VOLUME => field_volume = "volume";
}
