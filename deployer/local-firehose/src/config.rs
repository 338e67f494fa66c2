//! The delivery stream's configuration, read from the `AWS::KinesisFirehose::DeliveryStream`
//! resource's `Properties` as `deployer synth` writes them. Every property is either emulated or
//! refused with a [`ConfigError`] naming it: nothing in the template is silently ignored.
//!
//! Accepted without effect, and why: the two `RoleARN`s (the emulation acts with the clients it is
//! given, it assumes no role) and `CloudWatchLoggingOptions` (delivery errors are logged with
//! `tracing` and counted in [`crate::Stats::errors`] instead of CloudWatch Logs).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::partition::PartitionQuery;
use crate::prefix::{Prefix, PrefixKind};

/// What an object's body is compressed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `UNCOMPRESSED`: records as they are.
    Uncompressed,
    /// `GZIP`: one gzip member per object, key suffix `.gz`.
    Gzip,
}

impl Compression {
    /// The extension Firehose appends to object names.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Uncompressed => "",
            Compression::Gzip => ".gz",
        }
    }
}

/// Where the shards are first read from (shards that appear later are read from their start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPosition {
    /// After the newest record: what a new Firehose delivery stream does.
    Latest,
    /// From the oldest record the stream keeps.
    TrimHorizon,
    /// From the first record that arrived at or after this time (Unix milliseconds): for a local
    /// run, the time the run started, so that records put while it starts are not missed and
    /// those of earlier runs are not delivered again.
    AtTimestamp {
        /// Unix time in milliseconds.
        unix_millis: i64,
    },
}

/// When a partition's buffer becomes an object: whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffering {
    /// Bytes of records (before compression): `SizeInMBs` MiB.
    pub size_bytes: u64,
    /// Time since the buffer's first record: `IntervalInSeconds`.
    pub interval: Duration,
}

/// The dynamic-partitioning query, compiled.
#[derive(Debug, Clone)]
pub struct Partitioning {
    /// The `MetadataExtractionQuery`.
    pub query: Arc<PartitionQuery>,
    /// `DynamicPartitioningConfiguration.RetryOptions.DurationInSeconds`: how long an object
    /// is retried when it cannot be written.
    pub retry: Duration,
}

/// What the emulation does, read from the template.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// The delivery stream's name, the first part of object names. The template leaves it to
    /// CloudFormation (`<stack>-RawDeliveryStream-<random>`), so unless `DeliveryStreamName` is
    /// set it is [`DEFAULT_NAME`]; the runner may set it with [`DeliveryConfig::named`].
    pub name: String,
    /// The source stream's name (from `KinesisStreamARN`).
    pub stream_name: String,
    /// The destination bucket's name (from `BucketARN`).
    pub bucket: String,
    /// `Prefix`.
    pub prefix: Prefix,
    /// `ErrorOutputPrefix`.
    pub error_output_prefix: Option<Prefix>,
    /// `BufferingHints`.
    pub buffering: Buffering,
    /// `CompressionFormat`.
    pub compression: Compression,
    /// `EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN`: objects are written with
    /// SSE-KMS under this key; `None` for `NoEncryption` (the bucket's default applies).
    pub kms_key_arn: Option<String>,
    /// Dynamic partitioning, when enabled.
    pub partitioning: Option<Partitioning>,
    /// `AppendDelimiterToRecord`'s delimiter, added after each record.
    pub delimiter: Option<Vec<u8>>,
    /// Where reading starts (not in the template: [`StartPosition::Latest`] as Firehose does).
    pub start: StartPosition,
}

/// The object-name prefix when the template does not name the delivery stream.
pub const DEFAULT_NAME: &str = "local-delivery-stream";

/// How long a failing object write is retried without dynamic partitioning (Firehose's S3
/// retry duration is not configurable then; its documented behaviour is to keep retrying, which
/// a local run shortens).
pub const DEFAULT_RETRY: Duration = Duration::from_secs(300);

/// The template's delivery stream cannot be emulated as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required property is absent.
    #[error("the delivery stream has no {property}; `deployer run` needs it to emulate Firehose")]
    Missing {
        /// The property path, such as `ExtendedS3DestinationConfiguration.BucketARN`.
        property: String,
    },
    /// A property has a value Firehose would refuse or that cannot be read.
    #[error("the delivery stream's {property} is invalid: {reason}")]
    Invalid {
        /// The property path.
        property: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A property or value that `deployer run` does not emulate.
    #[error(
        "the delivery stream sets {property}, which `deployer run` does not emulate ({reason}); remove it from the stack or extend deployer/local-firehose"
    )]
    Unsupported {
        /// The property path.
        property: String,
        /// What is supported instead.
        reason: String,
    },
    /// An intrinsic (`Ref`, `Fn::GetAtt`, `Fn::Sub`) that the resolver could not turn into a
    /// value.
    #[error(
        "the delivery stream's {property} ({value}) could not be resolved to a physical value; is the stack deployed?"
    )]
    Unresolved {
        /// The property path.
        property: String,
        /// The intrinsic, as JSON.
        value: String,
    },
}

/// A JSON object's properties, each taken once, so that what remains can be refused.
struct Properties<'a> {
    path: String,
    map: Map<String, Value>,
    resolve: &'a dyn Fn(&Value) -> Option<String>,
}

impl<'a> Properties<'a> {
    fn new(
        path: &str,
        value: &Value,
        resolve: &'a dyn Fn(&Value) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let map = value
            .as_object()
            .cloned()
            .ok_or_else(|| ConfigError::Invalid {
                property: display_path(path),
                reason: format!("expected an object, found {value}"),
            })?;
        Ok(Properties {
            path: path.to_owned(),
            map,
            resolve,
        })
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key)
    }

    fn object(&mut self, key: &str) -> Result<Option<Properties<'a>>, ConfigError> {
        self.take(key)
            .map(|v| Properties::new(&self.name(key), &v, self.resolve))
            .transpose()
    }

    /// A string property, resolving intrinsics.
    fn string(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        let Some(value) = self.take(key) else {
            return Ok(None);
        };
        match &value {
            Value::String(text) => Ok(Some(text.clone())),
            Value::Object(_) => {
                (self.resolve)(&value)
                    .map(Some)
                    .ok_or_else(|| ConfigError::Unresolved {
                        property: self.name(key),
                        value: value.to_string(),
                    })
            }
            other => Err(ConfigError::Invalid {
                property: self.name(key),
                reason: format!("expected a string, found {other}"),
            }),
        }
    }

    fn required_string(&mut self, key: &str) -> Result<String, ConfigError> {
        self.string(key)?.ok_or_else(|| ConfigError::Missing {
            property: self.name(key),
        })
    }

    fn bool(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
            Some(other) => Err(ConfigError::Invalid {
                property: self.name(key),
                reason: format!("expected true or false, found {other}"),
            }),
        }
    }

    fn u64(&mut self, key: &str) -> Result<Option<u64>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().ok()),
            Some(other) => Err(ConfigError::Invalid {
                property: self.name(key),
                reason: format!("expected a non-negative integer, found {other}"),
            }),
        }
    }

    /// Refuses whatever was not taken.
    fn finish(self, what: &str) -> Result<(), ConfigError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(key) => Err(ConfigError::Unsupported {
                property: self.name(key),
                reason: format!("supported here: {what}"),
            }),
        }
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "Properties".to_owned()
    } else {
        path.to_owned()
    }
}

/// The processors of `ProcessingConfiguration`, as far as the emulation goes.
#[derive(Default)]
struct Processors {
    query: Option<(String, String)>,
    delimiter: Option<Vec<u8>>,
}

impl DeliveryConfig {
    /// Reads the delivery stream's `properties`; `resolve` turns an intrinsic (`Ref`,
    /// `Fn::GetAtt`, `Fn::Sub`) into its physical value (the stream's ARN or name, the bucket's
    /// ARN or name, the key's ARN).
    pub fn from_resource(
        properties: &Value,
        resolve: &dyn Fn(&Value) -> Option<String>,
    ) -> Result<DeliveryConfig, ConfigError> {
        let mut top = Properties::new("", properties, resolve)?;
        let name = top
            .string("DeliveryStreamName")?
            .unwrap_or_else(|| DEFAULT_NAME.to_owned());
        match top.required_string("DeliveryStreamType")?.as_str() {
            "KinesisStreamAsSource" => {}
            other => {
                return Err(ConfigError::Unsupported {
                    property: "DeliveryStreamType".to_owned(),
                    reason: format!("{other}: only KinesisStreamAsSource is emulated"),
                });
            }
        }
        let mut source = top
            .object("KinesisStreamSourceConfiguration")?
            .ok_or_else(|| ConfigError::Missing {
                property: "KinesisStreamSourceConfiguration".to_owned(),
            })?;
        let stream = source.required_string("KinesisStreamARN")?;
        let stream_name = stream
            .rsplit_once(":stream/")
            .map_or(stream.as_str(), |(_, name)| name)
            .to_owned();
        // The role is not assumed: the emulation acts with the clients it is given.
        source.take("RoleARN");
        source.finish("KinesisStreamARN, RoleARN")?;

        let mut s3 = top
            .object("ExtendedS3DestinationConfiguration")?
            .ok_or_else(|| ConfigError::Missing {
                property: "ExtendedS3DestinationConfiguration".to_owned(),
            })?;
        top.finish(
            "DeliveryStreamName, DeliveryStreamType, KinesisStreamSourceConfiguration, ExtendedS3DestinationConfiguration",
        )?;
        let config = read_destination(&mut s3, name, stream_name)?;
        s3.finish(
            "BucketARN, RoleARN, Prefix, ErrorOutputPrefix, BufferingHints, CompressionFormat, EncryptionConfiguration, DynamicPartitioningConfiguration, ProcessingConfiguration, CloudWatchLoggingOptions",
        )?;
        Ok(config)
    }

    /// The same configuration with objects named after `name` (the delivery stream's physical
    /// name, when the runner knows it).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The same configuration reading from `start`.
    pub fn starting_at(mut self, start: StartPosition) -> Self {
        self.start = start;
        self
    }

    /// How long a failing object write is retried.
    pub fn retry_duration(&self) -> Duration {
        self.partitioning
            .as_ref()
            .map_or(DEFAULT_RETRY, |p| p.retry)
    }
}

fn read_destination(
    s3: &mut Properties<'_>,
    name: String,
    stream_name: String,
) -> Result<DeliveryConfig, ConfigError> {
    let bucket_arn = s3.required_string("BucketARN")?;
    let bucket = bucket_arn
        .rsplit_once(":::")
        .map_or(bucket_arn.as_str(), |(_, name)| name)
        .to_owned();
    s3.take("RoleARN");
    // Delivery errors go to `tracing` and `Stats::errors` (see the module documentation).
    if let Some(mut logging) = s3.object("CloudWatchLoggingOptions")? {
        logging.bool("Enabled")?;
        logging.string("LogGroupName")?;
        logging.string("LogStreamName")?;
        logging.finish("Enabled, LogGroupName, LogStreamName")?;
    }

    let (partitioning_on, retry) = match s3.object("DynamicPartitioningConfiguration")? {
        None => (false, None),
        Some(mut dp) => {
            let enabled = dp.bool("Enabled")?.unwrap_or(false);
            let retry = match dp.object("RetryOptions")? {
                None => None,
                Some(mut options) => {
                    let seconds = options.u64("DurationInSeconds")?;
                    options.finish("DurationInSeconds")?;
                    seconds
                }
            };
            dp.finish("Enabled, RetryOptions")?;
            (enabled, retry)
        }
    };

    let processors = read_processors(s3)?;
    let partitioning = match (partitioning_on, processors.query) {
        (true, Some((engine_path, query))) => {
            let compiled =
                PartitionQuery::compile(&query).map_err(|reason| ConfigError::Invalid {
                    property: engine_path,
                    reason: format!("the JQ query `{query}` is not valid: {reason}"),
                })?;
            Some(Partitioning {
                query: Arc::new(compiled),
                // Firehose's default retry duration for dynamic partitioning.
                retry: Duration::from_secs(retry.unwrap_or(300)),
            })
        }
        (true, None) => {
            return Err(ConfigError::Unsupported {
                property: "ExtendedS3DestinationConfiguration.DynamicPartitioningConfiguration.Enabled".to_owned(),
                reason: "dynamic partitioning needs a MetadataExtraction processor (inline JQ); partitioning keys from a Lambda are not emulated".to_owned(),
            });
        }
        (false, Some((path, _))) => {
            return Err(ConfigError::Invalid {
                property: path,
                reason: "a MetadataExtraction processor needs DynamicPartitioningConfiguration.Enabled: true".to_owned(),
            });
        }
        (false, None) => None,
    };

    let prefix_text = s3.string("Prefix")?.unwrap_or_default();
    let prefix =
        Prefix::parse(&prefix_text, PrefixKind::Data, partitioning.is_some()).map_err(|e| {
            ConfigError::Invalid {
                property: s3.name("Prefix"),
                reason: e.0,
            }
        })?;
    let error_output_prefix = match s3.string("ErrorOutputPrefix")? {
        Some(text) => Some(
            Prefix::parse(&text, PrefixKind::Error, partitioning.is_some()).map_err(|e| {
                ConfigError::Invalid {
                    property: s3.name("ErrorOutputPrefix"),
                    reason: e.0,
                }
            })?,
        ),
        None => None,
    };
    if partitioning.is_some() {
        if error_output_prefix.is_none() {
            return Err(ConfigError::Missing {
                property: s3.name("ErrorOutputPrefix"),
            });
        }
        if prefix.partition_keys().next().is_none() {
            return Err(ConfigError::Invalid {
                property: s3.name("Prefix"),
                reason: "with dynamic partitioning the prefix must use at least one !{partitionKeyFromQuery:...}".to_owned(),
            });
        }
    } else if prefix.partition_keys().next().is_some() {
        return Err(ConfigError::Invalid {
            property: s3.name("Prefix"),
            reason: "!{partitionKeyFromQuery:...} needs dynamic partitioning".to_owned(),
        });
    }

    let buffering = match s3.object("BufferingHints")? {
        None => Buffering {
            size_bytes: 5 << 20,
            interval: Duration::from_secs(300),
        },
        Some(mut hints) => {
            let seconds = hints.u64("IntervalInSeconds")?.unwrap_or(300);
            let mib = hints.u64("SizeInMBs")?.unwrap_or(5);
            hints.finish("IntervalInSeconds, SizeInMBs")?;
            if mib == 0 {
                return Err(ConfigError::Invalid {
                    property: s3.name("BufferingHints.SizeInMBs"),
                    reason: "must be at least 1".to_owned(),
                });
            }
            Buffering {
                size_bytes: mib << 20,
                interval: Duration::from_secs(seconds),
            }
        }
    };

    let compression = match s3.string("CompressionFormat")?.as_deref() {
        None | Some("UNCOMPRESSED") => Compression::Uncompressed,
        Some("GZIP") => Compression::Gzip,
        Some(other) => {
            return Err(ConfigError::Unsupported {
                property: s3.name("CompressionFormat"),
                reason: format!("{other}: GZIP and UNCOMPRESSED are emulated"),
            });
        }
    };

    let kms_key_arn = match s3.object("EncryptionConfiguration")? {
        None => None,
        Some(mut encryption) => {
            let key = match encryption.object("KMSEncryptionConfig")? {
                Some(mut kms) => {
                    let arn = kms.required_string("AWSKMSKeyARN")?;
                    kms.finish("AWSKMSKeyARN")?;
                    Some(arn)
                }
                None => None,
            };
            match encryption.string("NoEncryptionConfig")?.as_deref() {
                None | Some("NoEncryption") => {}
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        property: encryption.name("NoEncryptionConfig"),
                        reason: format!("{other}: the only value is NoEncryption"),
                    });
                }
            }
            encryption.finish("KMSEncryptionConfig, NoEncryptionConfig")?;
            key
        }
    };

    Ok(DeliveryConfig {
        name,
        stream_name,
        bucket,
        prefix,
        error_output_prefix,
        buffering,
        compression,
        kms_key_arn,
        partitioning,
        delimiter: processors.delimiter,
        start: StartPosition::Latest,
    })
}

fn read_processors(s3: &mut Properties<'_>) -> Result<Processors, ConfigError> {
    let mut found = Processors::default();
    let Some(mut processing) = s3.object("ProcessingConfiguration")? else {
        return Ok(found);
    };
    let enabled = processing.bool("Enabled")?.unwrap_or(false);
    let list = processing
        .take("Processors")
        .unwrap_or(Value::Array(Vec::new()));
    let list_path = processing.name("Processors");
    processing.finish("Enabled, Processors")?;
    let Value::Array(list) = list else {
        return Err(ConfigError::Invalid {
            property: list_path,
            reason: "expected a list".to_owned(),
        });
    };
    if !enabled {
        // Firehose runs no processor when processing is disabled.
        return Ok(found);
    }
    for (index, processor) in list.iter().enumerate() {
        let path = format!("{list_path}[{index}]");
        let mut processor = Properties::new(&path, processor, s3.resolve)?;
        let kind = processor.required_string("Type")?;
        let parameters = processor
            .take("Parameters")
            .unwrap_or(Value::Array(Vec::new()));
        processor.finish("Type, Parameters")?;
        let mut params = read_parameters(&format!("{path}.Parameters"), &parameters, s3.resolve)?;
        match kind.as_str() {
            "MetadataExtraction" => {
                let query = params.remove("MetadataExtractionQuery").ok_or_else(|| {
                    ConfigError::Missing {
                        property: format!("{path}.Parameters.MetadataExtractionQuery"),
                    }
                })?;
                match params.remove("JsonParsingEngine").as_deref() {
                    Some("JQ-1.6") => {}
                    other => {
                        return Err(ConfigError::Unsupported {
                            property: format!("{path}.Parameters.JsonParsingEngine"),
                            reason: format!("{other:?}: only JQ-1.6 is emulated"),
                        });
                    }
                }
                found.query = Some((format!("{path}.Parameters.MetadataExtractionQuery"), query));
            }
            "AppendDelimiterToRecord" => {
                let delimiter = match params.remove("Delimiter") {
                    None => b"\n".to_vec(),
                    Some(text) => unescape(&text).map_err(|reason| ConfigError::Invalid {
                        property: format!("{path}.Parameters.Delimiter"),
                        reason,
                    })?,
                };
                found.delimiter = Some(delimiter);
            }
            other => {
                return Err(ConfigError::Unsupported {
                    property: format!("{path}.Type"),
                    reason: format!(
                        "{other}: the emulated processors are MetadataExtraction and AppendDelimiterToRecord"
                    ),
                });
            }
        }
        if let Some(name) = params.keys().next() {
            return Err(ConfigError::Unsupported {
                property: format!("{path}.Parameters.{name}"),
                reason: format!("not a parameter of {kind} that is emulated"),
            });
        }
    }
    Ok(found)
}

fn read_parameters(
    path: &str,
    parameters: &Value,
    resolve: &dyn Fn(&Value) -> Option<String>,
) -> Result<std::collections::BTreeMap<String, String>, ConfigError> {
    let Value::Array(list) = parameters else {
        return Err(ConfigError::Invalid {
            property: path.to_owned(),
            reason: "expected a list".to_owned(),
        });
    };
    let mut out = std::collections::BTreeMap::new();
    for (index, parameter) in list.iter().enumerate() {
        let mut p = Properties::new(&format!("{path}[{index}]"), parameter, resolve)?;
        let name = p.required_string("ParameterName")?;
        let value = p.required_string("ParameterValue")?;
        p.finish("ParameterName, ParameterValue")?;
        out.insert(name, value);
    }
    Ok(out)
}

/// The delimiter as Firehose reads it: `\n`, `\r`, `\t` and `\\` are escapes.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        out.push(match chars.next() {
            Some('n') => b'\n',
            Some('r') => b'\r',
            Some('t') => b'\t',
            Some('\\') => b'\\',
            other => {
                return Err(format!(
                    "`\\{}` is not an escape `deployer run` knows (\\n, \\r, \\t, \\\\)",
                    other.map(String::from).unwrap_or_default()
                ));
            }
        });
    }
    if out.is_empty() {
        return Err("the delimiter is empty".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resolve(v: &Value) -> Option<String> {
        match v.get("Fn::GetAtt").and_then(|a| a[0].as_str()) {
            Some("QuoteStream") => {
                Some("arn:aws:kinesis:us-east-1:123456789012:stream/quotes".into())
            }
            Some("RawBucket") => Some("arn:aws:s3:::raw-bucket".into()),
            Some("DataKey") => Some("arn:aws:kms:us-east-1:123456789012:key/k".into()),
            _ => None,
        }
    }

    fn minimal() -> Value {
        json!({
            "DeliveryStreamType": "KinesisStreamAsSource",
            "KinesisStreamSourceConfiguration": {
                "KinesisStreamARN": {"Fn::GetAtt": ["QuoteStream", "Arn"]},
                "RoleARN": {"Fn::GetAtt": ["Role", "Arn"]}
            },
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": {"Fn::GetAtt": ["RawBucket", "Arn"]},
                "RoleARN": {"Fn::GetAtt": ["Role", "Arn"]},
                "Prefix": "raw/"
            }
        })
    }

    #[test]
    fn defaults_are_firehose_defaults() {
        let c = DeliveryConfig::from_resource(&minimal(), &resolve).unwrap();
        assert_eq!(c.stream_name, "quotes");
        assert_eq!(c.bucket, "raw-bucket");
        assert_eq!(c.name, DEFAULT_NAME);
        assert_eq!(c.compression, Compression::Uncompressed);
        assert_eq!(c.buffering.size_bytes, 5 << 20);
        assert_eq!(c.buffering.interval, Duration::from_secs(300));
        assert!(c.partitioning.is_none() && c.delimiter.is_none() && c.kms_key_arn.is_none());
        assert_eq!(c.start, StartPosition::Latest);
        assert_eq!(c.named("x").name, "x");
    }

    #[test]
    fn unknown_or_unemulated_settings_are_refused_by_name() {
        let mut p = minimal();
        p["ExtendedS3DestinationConfiguration"]["S3BackupMode"] = json!("Enabled");
        let e = DeliveryConfig::from_resource(&p, &resolve).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Unsupported { property, .. } if property == "ExtendedS3DestinationConfiguration.S3BackupMode"),
            "{e}"
        );

        let mut p = minimal();
        p["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"] = json!({
            "Enabled": true,
            "Processors": [{"Type": "Lambda", "Parameters": []}]
        });
        let e = DeliveryConfig::from_resource(&p, &resolve).unwrap_err();
        assert!(e.to_string().contains("Processors[0].Type"), "{e}");

        let mut p = minimal();
        p["ExtendedS3DestinationConfiguration"]["CompressionFormat"] = json!("Snappy");
        let e = DeliveryConfig::from_resource(&p, &resolve).unwrap_err();
        assert!(e.to_string().contains("CompressionFormat"), "{e}");

        let mut p = minimal();
        p["DeliveryStreamType"] = json!("DirectPut");
        assert!(DeliveryConfig::from_resource(&p, &resolve).is_err());

        let mut p = minimal();
        p["KinesisStreamSourceConfiguration"]["KinesisStreamARN"] = json!({"Ref": "Nope"});
        let e = DeliveryConfig::from_resource(&p, &resolve).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Unresolved { property, .. } if property == "KinesisStreamSourceConfiguration.KinesisStreamARN"),
            "{e}"
        );
    }

    #[test]
    fn partitioning_needs_a_query_an_error_prefix_and_keys_in_the_prefix() {
        let mut p = minimal();
        let s3 = &mut p["ExtendedS3DestinationConfiguration"];
        s3["DynamicPartitioningConfiguration"] = json!({"Enabled": true});
        let e = DeliveryConfig::from_resource(&p, &resolve).unwrap_err();
        assert!(e.to_string().contains("MetadataExtraction"), "{e}");

        let query = |q: &str| {
            json!({"Enabled": true, "Processors": [{"Type": "MetadataExtraction", "Parameters": [
                {"ParameterName": "MetadataExtractionQuery", "ParameterValue": q},
                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]})
        };
        p["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"] = query("{s: .s}");
        let e = DeliveryConfig::from_resource(&p, &resolve).unwrap_err();
        assert_eq!(
            e,
            ConfigError::Missing {
                property: "ExtendedS3DestinationConfiguration.ErrorOutputPrefix".into()
            }
        );
        p["ExtendedS3DestinationConfiguration"]["ErrorOutputPrefix"] =
            json!("e/!{firehose:error-output-type}/");
        let e = DeliveryConfig::from_resource(&p, &resolve).unwrap_err();
        assert!(e.to_string().contains("partitionKeyFromQuery"), "{e}");
        p["ExtendedS3DestinationConfiguration"]["Prefix"] =
            json!("raw/s=!{partitionKeyFromQuery:s}/");
        p["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"] = query("{s: .s");
        let e = DeliveryConfig::from_resource(&p, &resolve).unwrap_err();
        assert!(
            e.to_string().contains("MetadataExtractionQuery")
                && e.to_string().contains("not valid"),
            "{e}"
        );
        p["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"] = query("{s: .s}");
        let c = DeliveryConfig::from_resource(&p, &resolve).unwrap();
        assert_eq!(c.partitioning.unwrap().retry, Duration::from_secs(300));
    }

    #[test]
    fn delimiters_are_unescaped() {
        assert_eq!(unescape("\\n").unwrap(), b"\n");
        assert_eq!(unescape("|\\t\\\\").unwrap(), b"|\t\\");
        assert!(unescape("\\x").is_err());
        assert!(unescape("").is_err());
    }
}
