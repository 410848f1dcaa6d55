//! Maps read from requests refuse a key given twice, as structs refuse a
//! field given twice; serde's own map impl silently keeps the last value.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// `#[serde(deserialize_with = "unique_keys")]` for a `BTreeMap` field.
pub fn unique_keys<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Serialize + Ord,
    V: Deserialize<'de>,
{
    struct Unique<K, V>(PhantomData<(K, V)>);

    impl<'de, K, V> Visitor<'de> for Unique<K, V>
    where
        K: Deserialize<'de> + Serialize + Ord,
        V: Deserialize<'de>,
    {
        type Value = BTreeMap<K, V>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object with each key once")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<K>()? {
                if out.contains_key(&key) {
                    let shown = serde_json::to_string(&key).unwrap_or_default();
                    return Err(A::Error::custom(format_args!(
                        "duplicate key {shown}: give each key once"
                    )));
                }
                let value = map.next_value()?;
                out.insert(key, value);
            }
            Ok(out)
        }
    }

    d.deserialize_map(Unique(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Holder {
        #[serde(deserialize_with = "unique_keys")]
        map: BTreeMap<String, u8>,
    }

    #[test]
    fn a_key_given_twice_is_refused_and_names_the_key() {
        let e = serde_json::from_str::<Holder>(r#"{"map": {"a": 1, "b": 2, "a": 3}}"#)
            .expect_err("a duplicate key");
        assert!(e.to_string().contains(r#"duplicate key "a""#), "{e}");
        let ok = serde_json::from_str::<Holder>(r#"{"map": {"a": 1, "b": 2}}"#).expect("unique");
        assert_eq!(ok.map.len(), 2);
    }
}
