//! Why a record was rejected: one variant per rule, each with a stable machine code.

use std::fmt;

use crate::arrival::Span;
use crate::{CurrencyError, SymbolError, TimeError};

/// A field of the record, named as in the JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `v`, the schema version.
    Version,
    /// `symbol`.
    Symbol,
    /// `price`.
    Price,
    /// `currency`.
    Currency,
    /// `change_pct`.
    ChangePct,
    /// `volume`.
    Volume,
    /// `market_time`.
    MarketTime,
    /// `scraped_at`.
    ScrapedAt,
    /// `source`.
    Source,
}

impl Field {
    /// Every field, in the order of the JSON form.
    pub const ALL: [Field; 9] = [
        Field::Version,
        Field::Symbol,
        Field::Price,
        Field::Currency,
        Field::ChangePct,
        Field::Volume,
        Field::MarketTime,
        Field::ScrapedAt,
        Field::Source,
    ];

    /// The field a JSON key names, if it is one of the record's.
    pub(crate) fn from_key(key: &[u8]) -> Option<Field> {
        Self::ALL.into_iter().find(|f| f.key().as_bytes() == key)
    }

    /// The JSON key.
    pub const fn key(self) -> &'static str {
        match self {
            Field::Version => "v",
            Field::Symbol => "symbol",
            Field::Price => "price",
            Field::Currency => "currency",
            Field::ChangePct => "change_pct",
            Field::Volume => "volume",
            Field::MarketTime => "market_time",
            Field::ScrapedAt => "scraped_at",
            Field::Source => "source",
        }
    }

    /// The JSON type the field must have, with its article, for messages.
    pub const fn expected(self) -> &'static str {
        match self {
            Field::Version | Field::Volume => "an integer",
            Field::Price | Field::ChangePct => "a number",
            _ => "a string",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The JSON type of a value, for [`Invalid::WrongType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonType {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonType::Null => "null",
            JsonType::Bool => "a boolean",
            JsonType::Number => "a number",
            JsonType::String => "a string",
            JsonType::Array => "an array",
            JsonType::Object => "an object",
        })
    }
}

/// Why `source` is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The text is empty (an InfluxDB tag value cannot be empty).
    #[error("a source must not be empty")]
    Empty,
    /// The text is longer than [`crate::MAX_SOURCE_LEN`] bytes.
    #[error("a source has at most {max} bytes, this one has {0}", max = crate::MAX_SOURCE_LEN)]
    TooLong(usize),
    /// The text holds a control character (line breaks cannot be written to InfluxDB).
    #[error("a source must not contain control characters")]
    ControlCharacter,
    /// A backslash stands before a backslash, space, `,`, `=` or the end: the InfluxDB tag value
    /// would not read back the same.
    #[error(
        "a backslash in a source must not stand before a backslash, space, ',', '=' or the end"
    )]
    Backslash,
}

/// Why a record was rejected. [`Invalid::code`] is a stable machine code for the quarantine;
/// `Display` is the message for people.
///
/// When a record breaks several rules the reason is chosen in this order: structure (not JSON,
/// not an object, duplicate field, trailing garbage), then the version, then each field in the
/// order of the JSON form (missing, wrong type, bad value), then `market_time` against
/// `scraped_at`. [`Invalid::AheadOfArrival`] and [`Invalid::TooOld`] come from
/// [`crate::Quote::check_arrival`], a separate step after reading (it needs the arrival time).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Invalid {
    /// The bytes are not JSON (including not UTF-8, and NaN/Infinity outside `price`/`change_pct`).
    #[error("not JSON at byte {offset}: {what}")]
    NotJson {
        /// Where the problem was found.
        offset: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// The JSON value is not an object.
    #[error("the record is {0}, not an object")]
    NotObject(JsonType),
    /// Something other than whitespace follows the object.
    #[error("unexpected data after the record at byte {offset}")]
    TrailingGarbage {
        /// Where the data starts.
        offset: usize,
    },
    /// A field appears twice (JSON readers disagree on which one wins, so neither does).
    #[error("field `{0}` appears more than once")]
    DuplicateField(Field),
    /// A required field is absent.
    #[error("field `{0}` is missing")]
    MissingField(Field),
    /// A field has the wrong JSON type.
    #[error("field `{field}` must be {expected}, found {found}", expected = field.expected())]
    WrongType {
        /// The field.
        field: Field,
        /// The type found.
        found: JsonType,
    },
    /// `v` is not 1.
    #[error("unsupported schema version {0} (this reader knows version 1)")]
    UnsupportedVersion(String),
    /// `symbol` breaks the symbol rule.
    #[error("bad symbol: {0}")]
    BadSymbol(SymbolError),
    /// `price` is NaN or infinite.
    #[error("price must be finite")]
    PriceNotFinite,
    /// `price` is zero or negative.
    #[error("price must be greater than 0")]
    PriceNotPositive,
    /// `currency` is not three upper-case letters.
    #[error("bad currency: {0}")]
    BadCurrency(CurrencyError),
    /// `change_pct` is NaN or infinite.
    #[error("change_pct must be finite")]
    ChangePctNotFinite,
    /// `volume` is negative.
    #[error("volume must not be negative")]
    VolumeNegative,
    /// `volume` has a fraction or an exponent.
    #[error("volume must be an integer (no fraction or exponent)")]
    VolumeNotInteger,
    /// `volume` is larger than InfluxDB's integer field holds (`i64::MAX`).
    #[error("volume is larger than 9223372036854775807")]
    VolumeTooLarge,
    /// `market_time` is not an RFC 3339 time in UTC.
    #[error("bad market_time: {0}")]
    BadMarketTime(TimeError),
    /// `scraped_at` is not an RFC 3339 time in UTC.
    #[error("bad scraped_at: {0}")]
    BadScrapedAt(TimeError),
    /// `market_time` is more than five minutes after `scraped_at`: a quote from the future.
    #[error("market_time {market_time} is later than scraped_at {scraped_at} + 5 minutes")]
    MarketTimeAfterScrape {
        /// The record's `market_time`.
        market_time: crate::Timestamp,
        /// The record's `scraped_at`.
        scraped_at: crate::Timestamp,
    },
    /// `source` is not acceptable.
    #[error("bad source: {0}")]
    BadSource(SourceError),
    /// `market_time` or `scraped_at` is later than the arrival time plus
    /// [`crate::MAX_ARRIVAL_LEAD_NANOS`]: a record from the future (see [`crate::check_arrival_time`]).
    #[error(
        "{field} {time} is {ahead} ahead of the arrival time {arrived_at}; at most {max} is allowed",
        ahead = Span::between(*time, *arrived_at),
        max = Span(crate::MAX_ARRIVAL_LEAD_NANOS as i128)
    )]
    AheadOfArrival {
        /// [`Field::MarketTime`] or [`Field::ScrapedAt`].
        field: Field,
        /// The record's time.
        time: crate::Timestamp,
        /// When the record arrived (the consumer's reference instant).
        arrived_at: crate::Timestamp,
    },
    /// `market_time` or `scraped_at` is earlier than the arrival time minus
    /// [`crate::MAX_ARRIVAL_AGE_NANOS`]: implausibly old (see [`crate::check_arrival_time`]).
    #[error(
        "{field} {time} is {behind} before the arrival time {arrived_at}; at most {max} is allowed",
        behind = Span::between(*time, *arrived_at),
        max = Span(crate::MAX_ARRIVAL_AGE_NANOS as i128)
    )]
    TooOld {
        /// [`Field::MarketTime`] or [`Field::ScrapedAt`].
        field: Field,
        /// The record's time.
        time: crate::Timestamp,
        /// When the record arrived (the consumer's reference instant).
        arrived_at: crate::Timestamp,
    },
}

impl Invalid {
    /// A stable machine code, `snake_case`, for quarantine records and metrics.
    pub const fn code(&self) -> &'static str {
        match self {
            Invalid::NotJson { .. } => "not_json",
            Invalid::NotObject(_) => "not_object",
            Invalid::TrailingGarbage { .. } => "trailing_garbage",
            Invalid::DuplicateField(_) => "duplicate_field",
            Invalid::MissingField(_) => "missing_field",
            Invalid::WrongType { .. } => "wrong_type",
            Invalid::UnsupportedVersion(_) => "unsupported_version",
            Invalid::BadSymbol(_) => "bad_symbol",
            Invalid::PriceNotFinite => "price_not_finite",
            Invalid::PriceNotPositive => "price_not_positive",
            Invalid::BadCurrency(_) => "bad_currency",
            Invalid::ChangePctNotFinite => "change_pct_not_finite",
            Invalid::VolumeNegative => "volume_negative",
            Invalid::VolumeNotInteger => "volume_not_integer",
            Invalid::VolumeTooLarge => "volume_too_large",
            Invalid::BadMarketTime(_) => "bad_market_time",
            Invalid::BadScrapedAt(_) => "bad_scraped_at",
            Invalid::MarketTimeAfterScrape { .. } => "market_time_after_scraped_at",
            Invalid::BadSource(_) => "bad_source",
            Invalid::AheadOfArrival { .. } => "time_ahead_of_arrival",
            Invalid::TooOld { .. } => "time_too_old",
        }
    }

    /// The field the reason is about, if it is about one.
    pub const fn field(&self) -> Option<Field> {
        match self {
            Invalid::NotJson { .. } | Invalid::NotObject(_) | Invalid::TrailingGarbage { .. } => {
                None
            }
            Invalid::DuplicateField(f)
            | Invalid::MissingField(f)
            | Invalid::WrongType { field: f, .. } => Some(*f),
            Invalid::UnsupportedVersion(_) => Some(Field::Version),
            Invalid::BadSymbol(_) => Some(Field::Symbol),
            Invalid::PriceNotFinite | Invalid::PriceNotPositive => Some(Field::Price),
            Invalid::BadCurrency(_) => Some(Field::Currency),
            Invalid::ChangePctNotFinite => Some(Field::ChangePct),
            Invalid::VolumeNegative | Invalid::VolumeNotInteger | Invalid::VolumeTooLarge => {
                Some(Field::Volume)
            }
            Invalid::BadMarketTime(_) | Invalid::MarketTimeAfterScrape { .. } => {
                Some(Field::MarketTime)
            }
            Invalid::BadScrapedAt(_) => Some(Field::ScrapedAt),
            Invalid::BadSource(_) => Some(Field::Source),
            Invalid::AheadOfArrival { field, .. } | Invalid::TooOld { field, .. } => Some(*field),
        }
    }
}
