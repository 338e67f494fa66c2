//! The operator's client certificate and key, and the checks made before a profile is written:
//! the certificate chains to the endpoint's client root CA (signature and issuer, by
//! `rustls-webpki`, the verifier rustls uses) for client authentication, and is valid at the time
//! given. A revocation list is checked to parse before it is imported.

use std::time::SystemTime;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};

/// Why a certificate, key or revocation list cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The certificate file holds no PEM certificate.
    #[error(
        "{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the client certificate the endpoint's client root CA issued"
    )]
    NoCertificate {
        /// The file.
        path: String,
    },
    /// The key file holds no PEM private key.
    #[error(
        "{path} holds no PEM private key (-----BEGIN PRIVATE KEY----- or RSA/EC PRIVATE KEY): give the key of the client certificate"
    )]
    NoKey {
        /// The file.
        path: String,
    },
    /// The CA text holds no certificate.
    #[error("the client root CA holds no PEM certificate")]
    NoCa,
    /// The certificate was not issued by the endpoint's client root CA.
    #[error(
        "the certificate {subject} was not issued by the endpoint's client root CA: use a certificate signed by that CA (the certificate ACM holds as the region's `client_root_certificate_arn`, or the CA given with --ca)"
    )]
    WrongIssuer {
        /// The certificate's subject.
        subject: String,
    },
    /// The certificate has expired.
    #[error(
        "the certificate {subject} expired on {not_after}: issue a new one from the client root CA"
    )]
    Expired {
        /// The certificate's subject.
        subject: String,
        /// Its expiry date.
        not_after: String,
    },
    /// The certificate is not valid yet.
    #[error(
        "the certificate {subject} is not valid before {not_before}: check the machine's clock, or wait"
    )]
    NotYetValid {
        /// The certificate's subject.
        subject: String,
        /// Its start date.
        not_before: String,
    },
    /// Any other reason the verifier refused it.
    #[error("the certificate {subject} cannot be used for a VPN client: {reason}")]
    Unusable {
        /// The certificate's subject.
        subject: String,
        /// The verifier's reason.
        reason: String,
    },
    /// The revocation list is not one.
    #[error(
        "the revocation list is not a PEM certificate revocation list (-----BEGIN X509 CRL-----): {reason}"
    )]
    BadCrl {
        /// What is wrong.
        reason: String,
    },
}

/// A client certificate (with any intermediates after it) and its key, as PEM text.
pub struct ClientCertificate {
    certificate_pem: String,
    key_pem: String,
    chain: Vec<CertificateDer<'static>>,
}

// The key never appears in debug output.
impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// What the checks found out about a usable certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The subject's common name, when it has one.
    pub subject: Option<String>,
    /// The last day it is valid, `YYYY-MM-DD` (UTC).
    pub not_after: String,
}

impl ClientCertificate {
    /// The certificate file's and key file's text (`*_path` name them in errors).
    pub fn from_pem(
        certificate_pem: String,
        certificate_path: &str,
        key_pem: String,
        key_path: &str,
    ) -> Result<Self, CertificateError> {
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(certificate_pem.as_bytes())
                .filter_map(Result::ok)
                .collect();
        if chain.is_empty() {
            return Err(CertificateError::NoCertificate {
                path: certificate_path.to_owned(),
            });
        }
        if PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).is_err() {
            return Err(CertificateError::NoKey {
                path: key_path.to_owned(),
            });
        }
        Ok(Self {
            certificate_pem,
            key_pem,
            chain,
        })
    }

    /// The certificate's PEM blocks, as the profile's `<cert>` holds them.
    pub fn certificate_pem(&self) -> String {
        pem_blocks(&self.certificate_pem, "CERTIFICATE")
    }

    /// The key's PEM block, as the profile's `<key>` holds it.
    pub(crate) fn key_pem(&self) -> String {
        ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]
            .iter()
            .map(|label| pem_blocks(&self.key_pem, label))
            .find(|blocks| !blocks.is_empty())
            .unwrap_or_default()
    }

    /// Checks that the certificate chains to one of the CA certificates in `ca_pem` for client
    /// authentication and is valid at `now`.
    pub fn check(&self, ca_pem: &[u8], now: SystemTime) -> Result<Checked, CertificateError> {
        let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ca_pem)
            .filter_map(Result::ok)
            .collect();
        let anchors: Vec<_> = cas
            .iter()
            .filter_map(|ca| webpki::anchor_from_trusted_cert(ca).ok())
            .collect();
        if anchors.is_empty() {
            return Err(CertificateError::NoCa);
        }
        let leaf = &self.chain[0];
        let validity = der::validity(leaf);
        let subject = der::common_name(leaf);
        let shown = subject
            .clone()
            .map_or_else(|| "in the file".to_owned(), |cn| format!("`{cn}`"));
        let end_entity =
            webpki::EndEntityCert::try_from(leaf).map_err(|e| CertificateError::Unusable {
                subject: shown.clone(),
                reason: e.to_string(),
            })?;
        let time = UnixTime::since_unix_epoch(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
        );
        let verified = end_entity.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &self.chain[1..],
            time,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        );
        match verified {
            Ok(_) => Ok(Checked {
                subject,
                not_after: validity.map(|(_, after)| date(after)).unwrap_or_default(),
            }),
            Err(webpki::Error::UnknownIssuer) => {
                Err(CertificateError::WrongIssuer { subject: shown })
            }
            Err(webpki::Error::CertExpired { not_after, .. }) => Err(CertificateError::Expired {
                subject: shown,
                not_after: date(not_after.as_secs()),
            }),
            Err(webpki::Error::CertNotValidYet { not_before, .. }) => {
                Err(CertificateError::NotYetValid {
                    subject: shown,
                    not_before: date(not_before.as_secs()),
                })
            }
            Err(other) => Err(CertificateError::Unusable {
                subject: shown,
                reason: other.to_string(),
            }),
        }
    }
}

/// Checks that `crl_pem` holds a certificate revocation list that parses.
pub fn check_crl(crl_pem: &[u8]) -> Result<(), CertificateError> {
    let lists: Vec<CertificateRevocationListDer<'static>> =
        CertificateRevocationListDer::pem_slice_iter(crl_pem)
            .collect::<Result<_, pem::Error>>()
            .map_err(|e| CertificateError::BadCrl {
                reason: e.to_string(),
            })?;
    if lists.is_empty() {
        return Err(CertificateError::BadCrl {
            reason: "no X509 CRL block found".into(),
        });
    }
    for list in &lists {
        webpki::OwnedCertRevocationList::from_der(list.as_ref()).map_err(|e| {
            CertificateError::BadCrl {
                reason: e.to_string(),
            }
        })?;
    }
    Ok(())
}

/// The PEM blocks labelled `label` in `text`, each from its BEGIN line to its END line.
fn pem_blocks(text: &str, label: &str) -> String {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let Some(stop) = rest[start..].find(&end) else {
            break;
        };
        out.push_str(&rest[start..start + stop + end.len()]);
        out.push('\n');
        rest = &rest[start + stop + end.len()..];
    }
    out
}

/// `YYYY-MM-DD` of a Unix time (UTC), by the days-from-civil inverse (proleptic Gregorian).
fn date(secs: u64) -> String {
    let days = (secs / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The few certificate fields the messages name, read from the DER (webpki does not expose them).
mod der {
    use rustls_pki_types::CertificateDer;

    /// One DER element: its tag, its contents, and what follows it.
    fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (length, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let length = rest[..count]
                .iter()
                .fold(0usize, |n, b| (n << 8) | usize::from(*b));
            (length, &rest[count..])
        };
        (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
    }

    /// The elements of a SEQUENCE's contents.
    fn children(mut input: &[u8]) -> Vec<(u8, &[u8])> {
        let mut out = Vec::new();
        while let Some((tag, contents, rest)) = element(input) {
            out.push((tag, contents));
            input = rest;
        }
        out
    }

    /// The TBSCertificate's fields: version (optional, tagged), serial, signature, issuer,
    /// validity, subject, ...
    fn tbs_fields<'a>(cert: &'a CertificateDer<'a>) -> Option<Vec<(u8, &'a [u8])>> {
        let (_, certificate, _) = element(cert.as_ref())?;
        let (_, tbs, _) = element(certificate)?;
        let mut fields = children(tbs);
        if fields.first().is_some_and(|(tag, _)| *tag == 0xa0) {
            fields.remove(0);
        }
        Some(fields)
    }

    /// notBefore and notAfter as Unix seconds.
    pub(super) fn validity(cert: &CertificateDer<'_>) -> Option<(u64, u64)> {
        let fields = tbs_fields(cert)?;
        let (_, validity) = fields.get(3)?;
        let times = children(validity);
        Some((time(times.first()?)?, time(times.get(1)?)?))
    }

    /// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as Unix seconds.
    fn time((tag, contents): &(u8, &[u8])) -> Option<u64> {
        let text = std::str::from_utf8(contents).ok()?;
        let digits = text.strip_suffix('Z')?;
        let (year, rest) = match tag {
            0x17 => {
                let yy: i64 = digits.get(..2)?.parse().ok()?;
                (
                    if yy >= 50 { 1900 + yy } else { 2000 + yy },
                    digits.get(2..)?,
                )
            }
            0x18 => (digits.get(..4)?.parse().ok()?, digits.get(4..)?),
            _ => return None,
        };
        let part = |range: std::ops::Range<usize>| -> Option<i64> { rest.get(range)?.parse().ok() };
        let (month, day) = (part(0..2)?, part(2..4)?);
        let (hour, minute, second) = (part(4..6)?, part(6..8)?, part(8..10)?);
        // Days from civil (proleptic Gregorian).
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()
    }

    /// The subject's first common name (OID 2.5.4.3).
    pub(super) fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
        const COMMON_NAME: [u8; 3] = [0x55, 0x04, 0x03];
        let fields = tbs_fields(cert)?;
        let (_, subject) = fields.get(4)?;
        children(subject).into_iter().find_map(|(_, set)| {
            children(set).into_iter().find_map(|(_, pair)| {
                let parts = children(pair);
                let (_, oid) = parts.first()?;
                let (_, value) = parts.get(1)?;
                (*oid == COMMON_NAME).then(|| String::from_utf8_lossy(value).into_owned())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_796_083_199), "2026-11-30");
    }

    #[test]
    fn pem_blocks_keep_only_their_label() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\nmore\n-----BEGIN PRIVATE KEY-----\nBBB\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            pem_blocks(text, "CERTIFICATE"),
            "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"
        );
        assert_eq!(
            pem_blocks(text, "PRIVATE KEY"),
            "-----BEGIN PRIVATE KEY-----\nBBB\n-----END PRIVATE KEY-----\n"
        );
    }
}
