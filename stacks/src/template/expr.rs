//! CloudFormation values: literals and intrinsic functions, built from typed references.
//!
//! A reference to another resource is never a hand-written `${Name}` string: it is an [`Expr::Ref`] or
//! [`Expr::GetAtt`] made by a [`super::Handle`], and [`Expr::concat`] renders mixed parts as `Fn::Sub`
//! with the placeholders generated here, escaping any literal `${`.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::LogicalId;

/// A CloudFormation value.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal string.
    Str(String),
    /// A literal integer (serialized as a JSON number).
    Int(i64),
    /// A literal boolean.
    Bool(bool),
    /// `{"Ref": id}` to a resource, parameter or pseudo parameter.
    Ref(String),
    /// `{"Fn::GetAtt": [id, attribute]}`.
    GetAtt(LogicalId, &'static str),
    /// The parts joined with no separator (rendered as `Fn::Sub` when every part allows it).
    Concat(Vec<Expr>),
    /// `{"Fn::Join": [sep, parts]}`.
    Join(&'static str, Vec<Expr>),
    /// `{"Fn::Select": [index, list]}`.
    Select(u32, Box<Expr>),
    /// `{"Fn::GetAZs": ""}`: the availability zones of the stack's region.
    AvailabilityZones,
    /// `{"Fn::Base64": value}`.
    Base64(Box<Expr>),
    /// A list of values.
    List(Vec<Expr>),
}

/// The pseudo parameters this project uses.
pub mod pseudo {
    use super::Expr;

    /// `AWS::Region`: the region the stack is deployed in.
    pub fn region() -> Expr {
        Expr::Ref("AWS::Region".into())
    }
    /// `AWS::AccountId`: the account the stack is deployed in.
    pub fn account_id() -> Expr {
        Expr::Ref("AWS::AccountId".into())
    }
    /// `AWS::StackName`: the stack's name.
    pub fn stack_name() -> Expr {
        Expr::Ref("AWS::StackName".into())
    }
    /// `AWS::Partition`: `aws`, `aws-cn` or `aws-us-gov`.
    pub fn partition() -> Expr {
        Expr::Ref("AWS::Partition".into())
    }
}

impl Expr {
    /// A literal string.
    pub fn lit(text: impl Into<String>) -> Self {
        Self::Str(text.into())
    }

    /// The parts concatenated; adjacent literals are merged and a single part is returned as is.
    pub fn concat(parts: impl IntoIterator<Item = Expr>) -> Self {
        let mut merged: Vec<Expr> = Vec::new();
        for part in parts {
            match (merged.last_mut(), part) {
                (Some(Expr::Str(prev)), Expr::Str(next)) => prev.push_str(&next),
                (_, Expr::Concat(inner)) => merged.extend(inner),
                (_, part) => merged.push(part),
            }
        }
        if merged.len() == 1 {
            merged.pop().unwrap_or_else(|| Expr::lit(""))
        } else {
            Expr::Concat(merged)
        }
    }

    /// An ARN `arn:<partition>:<service>:<region>:<account>:<resource...>` in the stack's own
    /// partition, region and account.
    pub fn regional_arn(service: &str, resource: impl IntoIterator<Item = Expr>) -> Self {
        let mut parts = vec![
            Expr::lit("arn:"),
            pseudo::partition(),
            Expr::lit(format!(":{service}:")),
            pseudo::region(),
            Expr::lit(":"),
            pseudo::account_id(),
            Expr::lit(":"),
        ];
        parts.extend(resource);
        Expr::concat(parts)
    }

    /// An ARN with no region or account, such as S3's `arn:<partition>:s3:::<bucket>`.
    pub fn global_arn(service: &str, resource: impl IntoIterator<Item = Expr>) -> Self {
        let mut parts = vec![
            Expr::lit("arn:"),
            pseudo::partition(),
            Expr::lit(format!(":{service}:::")),
        ];
        parts.extend(resource);
        Expr::concat(parts)
    }

    /// The service principal `<service>.<url suffix>`, e.g. `lambda.amazonaws.com`.
    pub fn service_principal(service: &str) -> Self {
        Expr::lit(format!("{service}.amazonaws.com"))
    }

    /// `Fn::Base64` of this value.
    pub fn base64(self) -> Self {
        Expr::Base64(Box::new(self))
    }

    /// The `Fn::Sub` body for these parts, or `None` when a part cannot be a `${}` placeholder.
    fn sub_body(parts: &[Expr]) -> Option<String> {
        let mut body = String::new();
        for part in parts {
            match part {
                // `${` in a literal would start a placeholder; `${!` is Fn::Sub's escape for it.
                Expr::Str(s) => body.push_str(&s.replace("${", "${!")),
                Expr::Ref(id) => {
                    body.push_str("${");
                    body.push_str(id);
                    body.push('}');
                }
                Expr::GetAtt(id, attr) => {
                    body.push_str("${");
                    body.push_str(id.as_str());
                    body.push('.');
                    body.push_str(attr);
                    body.push('}');
                }
                _ => return None,
            }
        }
        Some(body)
    }
}

impl From<&str> for Expr {
    fn from(text: &str) -> Self {
        Expr::lit(text)
    }
}

impl From<String> for Expr {
    fn from(text: String) -> Self {
        Expr::Str(text)
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        fn single<S: Serializer, V: Serialize + ?Sized>(
            s: S,
            key: &str,
            value: &V,
        ) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(1))?;
            map.serialize_entry(key, value)?;
            map.end()
        }
        match self {
            Expr::Str(s) => serializer.serialize_str(s),
            Expr::Int(i) => serializer.serialize_i64(*i),
            Expr::Bool(b) => serializer.serialize_bool(*b),
            Expr::Ref(id) => single(serializer, "Ref", id),
            Expr::GetAtt(id, attr) => single(serializer, "Fn::GetAtt", &(id.as_str(), attr)),
            Expr::Concat(parts) => match Expr::sub_body(parts) {
                Some(body) => single(serializer, "Fn::Sub", &body),
                None => single(serializer, "Fn::Join", &("", parts)),
            },
            Expr::Join(sep, parts) => single(serializer, "Fn::Join", &(sep, parts)),
            Expr::Select(index, list) => single(serializer, "Fn::Select", &(index, list)),
            Expr::AvailabilityZones => single(serializer, "Fn::GetAZs", ""),
            Expr::Base64(value) => single(serializer, "Fn::Base64", value),
            Expr::List(items) => items.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn concat_of_references_renders_as_sub_with_escaped_literals() {
        let arn = Expr::regional_arn(
            "kinesis",
            [Expr::lit("stream/"), Expr::Ref("Quotes".into())],
        );
        assert_eq!(
            serde_json::to_value(&arn).unwrap(),
            json!({"Fn::Sub": "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/${Quotes}"})
        );
        let literal_dollar = Expr::concat([Expr::lit("echo ${HOME} "), Expr::Ref("Bucket".into())]);
        assert_eq!(
            serde_json::to_value(&literal_dollar).unwrap(),
            json!({"Fn::Sub": "echo ${!HOME} ${Bucket}"})
        );
    }

    #[test]
    fn concat_with_a_function_part_falls_back_to_join() {
        let value = Expr::concat([
            Expr::lit("az-"),
            Expr::Select(0, Box::new(Expr::AvailabilityZones)),
        ]);
        assert_eq!(
            serde_json::to_value(&value).unwrap(),
            json!({"Fn::Join": ["", ["az-", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}]]})
        );
    }

    #[test]
    fn concat_merges_literals_and_unwraps_single_parts() {
        assert_eq!(
            Expr::concat([Expr::lit("a"), Expr::lit("b")]),
            Expr::lit("ab")
        );
        assert_eq!(Expr::concat([Expr::Ref("X".into())]), Expr::Ref("X".into()));
    }
}
