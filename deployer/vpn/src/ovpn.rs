//! The OpenVPN profile: the inline blocks (`<ca>`, `<cert>`, `<key>`) Client VPN's exported
//! configuration holds or lacks, completing it, and writing it readable by its owner only.

use std::io::Write as _;
use std::path::Path;

use crate::certificate::ClientCertificate;

/// The text of the inline block `<name>…</name>`, trimmed; `None` when absent or unclosed.
pub fn block<'a>(profile: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = profile.find(&open)? + open.len();
    let end = profile[start..].find(&close)? + start;
    Some(profile[start..end].trim())
}

/// The directives of a profile outside its inline blocks: `(name, arguments)` per line, comments
/// and blank lines skipped.
pub fn directives(profile: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside: Option<String> = None;
    for line in profile.lines().map(str::trim) {
        if let Some(name) = &inside {
            if line == format!("</{name}>") {
                inside = None;
            }
            continue;
        }
        if let Some(name) = line.strip_prefix('<').and_then(|l| l.strip_suffix('>')) {
            if !name.starts_with('/') {
                inside = Some(name.to_owned());
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let (name, arguments) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        out.push((name.to_owned(), arguments.trim().to_owned()));
    }
    out
}

/// `exported` with the certificate and key inlined after it. Refuses a configuration that is not
/// a client profile (no `client` and `remote` directives) or that already carries a certificate
/// or key.
pub fn complete(exported: &str, certificate: &ClientCertificate) -> Result<String, &'static str> {
    let found = directives(exported);
    let has = |name: &str| found.iter().any(|(n, _)| n == name);
    if !has("client") || !has("remote") {
        return Err("is not an OpenVPN client profile (no `client` or `remote` directive)");
    }
    if block(exported, "cert").is_some() || block(exported, "key").is_some() {
        return Err("already holds a <cert> or <key> block");
    }
    let mut text = exported.trim_end().to_owned();
    text.push_str("\n\n<cert>\n");
    text.push_str(&certificate.certificate_pem());
    text.push_str("</cert>\n\n<key>\n");
    text.push_str(&certificate.key_pem());
    text.push_str("</key>\n");
    Ok(text)
}

/// Writes `text` to `path` readable and writable by its owner only (mode 0600), also when the
/// file existed with a wider mode: a temporary file beside it, made 0600 before anything is
/// written, then renamed over it.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "profile.ovpn".into());
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}
