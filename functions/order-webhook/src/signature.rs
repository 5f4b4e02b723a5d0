//! Webhook signatures as the Standard Webhooks specification defines them: HMAC-SHA256 over
//! `<webhook-id>.<webhook-timestamp>.<raw body>`, sent base64-encoded in `webhook-signature` as `v1,<signature>`
//! (several, space-separated, while a sender rotates its secret). The timestamp must be within a tolerance of now,
//! so a captured request cannot be replayed later; the id travels signed, so it cannot be swapped.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature is refused. Every case answers 401; the reason is logged and sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("webhook-timestamp is not a number of seconds since the epoch")]
    BadTimestamp,
    #[error(
        "webhook-timestamp is {} s {}, outside the {tolerance} s tolerance",
        age.unsigned_abs(),
        if *age < 0 { "ahead of now" } else { "old" }
    )]
    Stale { age: i64, tolerance: i64 },
    #[error("no v1 signature in webhook-signature matches the body")]
    Mismatch,
}

/// The HMAC key of a secret: a Standard Webhooks secret (`whsec_` then base64) is the bytes it encodes; any other
/// secret is its own UTF-8 bytes (what `openssl dgst -hmac` takes). An empty key, which anyone could sign with,
/// and a `whsec_` secret that is not base64 are refused.
pub fn key(secret: &str) -> Result<Vec<u8>, String> {
    let key = match secret.strip_prefix("whsec_") {
        Some(b64) => STANDARD.decode(b64.trim()).map_err(|e| {
            format!("the secret starts with whsec_ but the rest is not base64: {e}")
        })?,
        None => secret.as_bytes().to_vec(),
    };
    if key.is_empty() {
        return Err("the secret is empty: anyone could sign with it".into());
    }
    Ok(key)
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value a sender sends: `v1,<base64 HMAC>`.
pub fn sign(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    format!(
        "v1,{}",
        STANDARD.encode(mac(key, id, timestamp, body).finalize().into_bytes())
    )
}

/// Checks the headers' signature of `body` at `now` (seconds since the epoch). Each candidate is compared in
/// constant time (`Mac::verify_slice`); signatures of other versions or not base64 are skipped.
pub fn verify(
    key: &[u8],
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<(), Refusal> {
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refusal::BadTimestamp)?;
    if now.abs_diff(sent) > tolerance.unsigned_abs() {
        return Err(Refusal::Stale {
            age: now.saturating_sub(sent),
            tolerance,
        });
    }
    let expected = mac(key, id, timestamp, body);
    let matches = signatures
        .split_ascii_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .any(|candidate| expected.clone().verify_slice(&candidate).is_ok());
    if matches {
        Ok(())
    } else {
        Err(Refusal::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000;

    fn ok(signatures: &str, body: &[u8]) -> Result<(), Refusal> {
        verify(
            b"s3cret",
            "msg_1",
            &NOW.to_string(),
            signatures,
            body,
            NOW,
            300,
        )
    }

    #[test]
    fn a_signature_of_the_id_timestamp_and_body_is_accepted_and_any_change_is_not() {
        let body = br#"{"order_id":"PO-1"}"#;
        let good = sign(b"s3cret", "msg_1", &NOW.to_string(), body);
        assert_eq!(ok(&good, body), Ok(()));
        // Another body, id, timestamp or key.
        assert_eq!(ok(&good, br#"{"order_id":"PO-2"}"#), Err(Refusal::Mismatch));
        let other_id = sign(b"s3cret", "msg_2", &NOW.to_string(), body);
        assert_eq!(ok(&other_id, body), Err(Refusal::Mismatch));
        let other_key = sign(b"other", "msg_1", &NOW.to_string(), body);
        assert_eq!(ok(&other_key, body), Err(Refusal::Mismatch));
        // Rotation: any of several signatures; other versions and garbage are skipped.
        assert_eq!(
            ok(&format!("v2,abc v1,%%% {other_key} {good}"), body),
            Ok(())
        );
        assert_eq!(ok("", body), Err(Refusal::Mismatch));
    }

    #[test]
    fn a_timestamp_outside_the_tolerance_is_refused_either_way() {
        let body = b"{}";
        let at = |t: i64| {
            let ts = t.to_string();
            verify(
                b"k",
                "id",
                &ts,
                &sign(b"k", "id", &ts, body),
                body,
                NOW,
                300,
            )
        };
        assert_eq!(at(NOW - 300), Ok(()));
        assert_eq!(at(NOW + 300), Ok(()));
        assert_eq!(
            at(NOW - 301),
            Err(Refusal::Stale {
                age: 301,
                tolerance: 300
            })
        );
        assert!(matches!(
            at(NOW + 3600),
            Err(Refusal::Stale { age: -3600, .. })
        ));
        assert_eq!(
            verify(b"k", "id", "soon", "v1,x", body, NOW, 300),
            Err(Refusal::BadTimestamp)
        );
        // The far ends of the range are refused, never overflowed.
        for extreme in [i64::MIN, i64::MAX] {
            let ts = extreme.to_string();
            assert!(matches!(
                verify(
                    b"k",
                    "id",
                    &ts,
                    &sign(b"k", "id", &ts, body),
                    body,
                    NOW,
                    300
                ),
                Err(Refusal::Stale { .. })
            ));
        }
    }

    #[test]
    fn standard_webhooks_secrets_are_their_decoded_bytes() {
        assert_eq!(key("whsec_c2VjcmV0").as_deref(), Ok(&b"secret"[..]));
        assert_eq!(key("plain secret").as_deref(), Ok(&b"plain secret"[..]));
        assert!(key("whsec_").is_err(), "an empty key");
        assert!(key("").is_err());
        assert!(key("whsec_not base64!").is_err());
        // The specification's own example.
        let key = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("key");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
