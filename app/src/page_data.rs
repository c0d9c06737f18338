//! What a page loads through a server function: rendered on the server, then
//! carried in the page into the browser's hydration.

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// JSON that the browser decodes from bytes, as it decodes every server
/// function's answer. Leptos's default codec decodes from a `&str`, and
/// serde_json then compiles a second decoder of every page type for that
/// reader: the two copies were a quarter of the Authentication page's WASM.
pub struct JsonBytes;

impl<T: Serialize> Encoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, Self::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(encoded: &str) -> Result<T, Self::Error> {
        serde_json::from_slice(encoded.as_bytes())
    }
}

/// A page's data: `Resource::new`, with the codec above.
#[track_caller]
pub fn page_resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, JsonBytes>
where
    S: Send + Sync + Clone + PartialEq + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_it_encodes() {
        let value = vec![
            (String::from("é \"quoted\""), Some(3u8)),
            (String::new(), None),
        ];
        let encoded = <JsonBytes as Encoder<_>>::encode(&value).unwrap();
        let decoded: Vec<(String, Option<u8>)> = JsonBytes::decode(&encoded).unwrap();
        assert_eq!(decoded, value);
    }
}
