//! Renders CloudFormation intrinsic functions as the text a reviewer reads: `Fn::Sub` bodies as they
//! are, `Ref` as `${Name}`, `Fn::GetAtt` as `${Name.Attribute}`, `Fn::Join` as the joined text.

use serde_json::Value;

/// The readable form of a template value: strings and intrinsics become text; lists and maps keep
/// their shape with readable leaves.
pub fn render(value: &Value) -> Value {
    if let Some(text) = as_text(value) {
        return Value::String(text);
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(render).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), render(v))).collect())
        }
        other => other.clone(),
    }
}

/// The text of a string or string-valued intrinsic; `None` for anything else.
pub fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) if map.len() == 1 => {
            let (function, argument) = map.iter().next()?;
            match (function.as_str(), argument) {
                ("Ref", Value::String(name)) => Some(format!("${{{name}}}")),
                ("Fn::Sub", Value::String(body)) => Some(body.clone()),
                ("Fn::GetAtt", Value::Array(parts)) => {
                    let names: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
                    Some(format!("${{{}}}", names.join(".")))
                }
                ("Fn::Join", Value::Array(parts)) => {
                    let separator = parts.first()?.as_str()?;
                    let items = parts.get(1)?.as_array()?;
                    let texts: Option<Vec<String>> = items.iter().map(as_text).collect();
                    Some(texts?.join(separator))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn intrinsics_render_as_placeholders() {
        assert_eq!(
            as_text(&json!({"Ref": "QuoteStream"})).unwrap(),
            "${QuoteStream}"
        );
        assert_eq!(
            as_text(&json!({"Fn::GetAtt": ["Queue", "Arn"]})).unwrap(),
            "${Queue.Arn}"
        );
        assert_eq!(
            as_text(&json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::b/*"})).unwrap(),
            "arn:${AWS::Partition}:s3:::b/*"
        );
        assert_eq!(
            as_text(&json!({"Fn::Join": ["-", ["a", {"Ref": "B"}]]})).unwrap(),
            "a-${B}"
        );
        assert_eq!(as_text(&json!({"Fn::Select": [0, []]})), None);
        assert_eq!(
            render(&json!({"k": [{"Ref": "X"}, 3]})),
            json!({"k": ["${X}", 3]})
        );
    }
}
