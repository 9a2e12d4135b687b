//! GenServer bodies, `{"event":<name>,"data":<user data>}` (PROTOCOL §2.1),
//! read straight from JSON text.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// The event and data of a GenServer body given as JSON text, without
/// building the object. `None` whenever the text is anything else, or could
/// be a Buffer (it has a `type` key): the caller then parses it as a value
/// and splits that, which decides. What this returns is what that would
/// give: a repeated key keeps its last value, `data` defaults to `null`.
pub fn split(text: &str) -> Option<(String, Value)> {
    let Body { event, data } = serde_json::from_str(text).ok()?;
    match event? {
        Value::String(event) => Some((event, data.unwrap_or(Value::Null))),
        _ => None,
    }
}

struct Body {
    event: Option<Value>,
    data: Option<Value>,
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "lowercase")]
        enum Key {
            Event,
            Data,
            Type,
            #[serde(other)]
            Other,
        }
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Body;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a GenServer body")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
                let mut body = Body {
                    event: None,
                    data: None,
                };
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Event => body.event = Some(map.next_value()?),
                        Key::Data => body.data = Some(map.next_value()?),
                        Key::Type => return Err(serde::de::Error::custom("maybe a Buffer")),
                        // Parsed, not skipped: within the same limits as
                        // parsing the whole body would be.
                        Key::Other => {
                            map.next_value::<Value>()?;
                        }
                    }
                }
                Ok(body)
            }
        }
        d.deserialize_map(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_split_like_their_parsed_objects() {
        assert_eq!(
            split(r#"{"event":"e","data":{"x":[1,"y"]}}"#),
            Some(("e".into(), json!({"x": [1, "y"]})))
        );
        assert_eq!(
            split(r#"{"data":1,"event":"e"}"#),
            Some(("e".into(), json!(1)))
        );
        assert_eq!(split(r#"{"event":"e"}"#), Some(("e".into(), Value::Null)));
        assert_eq!(
            split(r#"{"event":1,"data":2,"event":"last","x":{}}"#),
            Some(("last".into(), json!(2)))
        );
        assert_eq!(
            split(r#"{"ev\u0065nt":"e","data":3}"#),
            Some(("e".into(), json!(3)))
        );
        for other in [
            r#"{"event":1}"#,
            r#"{"data":1}"#,
            r#"{"event":"e","data":1,"type":"Buffer"}"#,
            r#"[1]"#,
            r#""s""#,
            r#"{"event":"e""#,
            r#"{"event":"e"} x"#,
        ] {
            assert_eq!(split(other), None, "{other}");
        }
    }
}
