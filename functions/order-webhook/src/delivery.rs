//! One webhook request, checked before anything is stored: its size, its signature (never parse a body nobody
//! vouched for), that its body is a JSON object, and that its id can name an execution. Pure: the request, the
//! key and the time in, a delivery or the HTTP answer out.

use crate::signature::{self, Refusal};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// The headers of the Standard Webhooks specification.
pub const ID: &str = "webhook-id";
pub const TIMESTAMP: &str = "webhook-timestamp";
pub const SIGNATURE: &str = "webhook-signature";

/// The limits a request is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub tolerance_secs: i64,
}

/// A delivery that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The sender's `webhook-id`: the same for each of its retries of one delivery.
    pub id: String,
    /// The body, exactly as sent.
    pub body: String,
}

impl Delivery {
    /// The execution's input: the order exactly as sent and the delivery id. Nothing that differs between a
    /// sender's retries (the timestamp, the signature) goes in, so a retry's input is identical.
    pub fn execution_input(&self) -> String {
        format!(
            "{{\"delivery_id\":{},\"order\":{}}}",
            Value::String(self.id.clone()),
            self.body
        )
    }
}

/// Why a request is refused, as the HTTP answer says it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("{0}")]
    Unauthorized(#[from] Refusal),
    #[error("the body is {size} bytes, over the {limit} byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("{0}")]
    BadRequest(String),
}

impl Rejected {
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthorized(_) => 401,
            Self::TooLarge { .. } => 413,
            Self::BadRequest(_) => 400,
        }
    }

    pub fn response(&self) -> ApiGatewayV2httpResponse {
        let error = match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::TooLarge { .. } => "payload_too_large",
            Self::BadRequest(_) => "bad_request",
        };
        answer(
            self.status(),
            &json!({"error": error, "reason": self.to_string()}),
        )
    }
}

/// A JSON answer.
pub fn answer(status: u16, body: &Value) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response
        .headers
        .insert("content-type", HeaderValue::from_static("application/json"));
    response.body = Some(Body::Text(body.to_string()));
    response
}

fn header<'a>(
    request: &'a ApiGatewayV2httpRequest,
    name: &'static str,
) -> Result<&'a str, Rejected> {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or(Rejected::Unauthorized(Refusal::Missing(name)))
}

/// Whether `id` can name a Step Functions execution as it is: 1 to 80 of `A-Z a-z 0-9 - _`.
fn usable_id(id: &str) -> bool {
    (1..=80).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks `request` with `key` at `now` (seconds since the epoch).
pub fn check(
    request: &ApiGatewayV2httpRequest,
    key: &[u8],
    now: i64,
    limits: Limits,
) -> Result<Delivery, Rejected> {
    let raw = request.body.as_deref().unwrap_or_default();
    // API Gateway sends a body it does not take for text base64-encoded; the limit is on the bytes sent.
    let encoded_limit = limits.max_body_bytes.div_ceil(3) * 4;
    if request.is_base64_encoded && raw.len() > encoded_limit {
        return Err(Rejected::TooLarge {
            size: raw.len() / 4 * 3,
            limit: limits.max_body_bytes,
        });
    }
    let body: Vec<u8> = if request.is_base64_encoded {
        STANDARD
            .decode(raw)
            .map_err(|_| Rejected::BadRequest("the body is not valid base64".into()))?
    } else {
        raw.as_bytes().to_vec()
    };
    if body.len() > limits.max_body_bytes {
        return Err(Rejected::TooLarge {
            size: body.len(),
            limit: limits.max_body_bytes,
        });
    }
    let id = header(request, ID)?;
    let timestamp = header(request, TIMESTAMP)?;
    let signatures = header(request, SIGNATURE)?;
    signature::verify(
        key,
        id,
        timestamp,
        signatures,
        &body,
        now,
        limits.tolerance_secs,
    )?;
    if !usable_id(id) {
        return Err(Rejected::BadRequest(format!(
            "webhook-id {id:?} must be 1 to 80 of A-Z, a-z, 0-9, - and _"
        )));
    }
    let body = String::from_utf8(body)
        .map_err(|_| Rejected::BadRequest("the body is not UTF-8 text".into()))?;
    match serde_json::from_str::<Value>(&body) {
        // order-validator would read such a document as a reference to objects, not as an order.
        Ok(order) if order_validator::shape::names_objects(&order) => Err(Rejected::BadRequest(
            "the body has the shape of an S3 or EventBridge event (top-level Records or detail-type, or bucket \
             and key without line_items), not of an order"
                .into(),
        )),
        Ok(Value::Object(_)) => Ok(Delivery {
            id: id.to_owned(),
            body,
        }),
        Ok(_) => Err(Rejected::BadRequest(
            "the body is JSON but not an object: an order is one JSON object".into(),
        )),
        Err(e) => Err(Rejected::BadRequest(format!("the body is not JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::sign;

    const NOW: i64 = 1_796_000_000;
    const LIMITS: Limits = Limits {
        max_body_bytes: 64,
        tolerance_secs: 300,
    };

    fn request(body: &str, headers: &[(&'static str, String)]) -> ApiGatewayV2httpRequest {
        let mut r = ApiGatewayV2httpRequest::default();
        r.body = Some(body.to_owned());
        for (name, value) in headers {
            r.headers
                .insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        r
    }

    fn signed(id: &str, body: &str) -> ApiGatewayV2httpRequest {
        let ts = NOW.to_string();
        request(
            body,
            &[
                (ID, id.to_owned()),
                (TIMESTAMP, ts.clone()),
                (SIGNATURE, sign(b"k", id, &ts, body.as_bytes())),
            ],
        )
    }

    #[test]
    fn a_signed_json_order_is_a_delivery_whose_input_keeps_the_body_exactly() {
        let body = r#"{"order_id": "PO-1", "total": 60.970}"#;
        let d = check(&signed("msg_1", body), b"k", NOW, LIMITS).expect("delivery");
        assert_eq!(d.id, "msg_1");
        assert_eq!(
            d.execution_input(),
            r#"{"delivery_id":"msg_1","order":{"order_id": "PO-1", "total": 60.970}}"#
        );
        // A base64 body (API Gateway's way with bodies it does not take for text) is the same delivery.
        let mut b64 = signed("msg_1", body);
        b64.body = Some(STANDARD.encode(body));
        b64.is_base64_encoded = true;
        assert_eq!(check(&b64, b"k", NOW, LIMITS), Ok(d));
    }

    #[test]
    fn each_refusal_has_its_status() {
        let status = |r: &ApiGatewayV2httpRequest| {
            check(r, b"k", NOW, LIMITS).expect_err("refused").status()
        };
        // Unsigned, wrongly signed, or with a header missing: 401.
        assert_eq!(status(&request("{}", &[])), 401);
        let mut forged = signed("msg_1", "{}");
        forged.body = Some(r#"{"a":1}"#.into());
        assert_eq!(status(&forged), 401);
        let mut no_id = signed("msg_1", "{}");
        no_id.headers.remove(ID);
        assert_eq!(status(&no_id), 401);
        // Too large, checked before the signature: 413.
        let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(64));
        assert_eq!(status(&signed("msg_1", &big)), 413);
        assert_eq!(status(&request(&big, &[])), 413);
        // Signed but not a JSON object, or an id that cannot name an execution: 400.
        assert_eq!(status(&signed("msg_1", "not json")), 400);
        assert_eq!(status(&signed("msg_1", "[1, 2]")), 400);
        assert_eq!(status(&signed("msg:1", "{}")), 400);
        assert_eq!(status(&signed("msg_1", r#"{"Records": []}"#)), 400);
        let response = check(&signed("msg_1", "[1]"), b"k", NOW, LIMITS)
            .expect_err("refused")
            .response();
        assert_eq!(response.status_code, 400);
        let Some(Body::Text(text)) = response.body else {
            panic!("a JSON body")
        };
        let body: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(body["error"], "bad_request");
    }
}
