//! The Docusign client's tests.

use super::*;

#[test]
fn a_cut_body_is_worth_retrying_a_wrong_one_is_not() {
    let cut = serde_json::from_slice::<serde_json::Value>(br#"{"endCursor":"x","da"#).unwrap_err();
    assert!(BodyError::json("page", &cut).cut);
    for wrong in [&b"<html>Bad Gateway</html>"[..], b"{}x", b"[1,]"] {
        let e = serde_json::from_slice::<serde_json::Value>(wrong).unwrap_err();
        assert!(!BodyError::json("page", &e).cut, "{e}");
    }
    assert!(!BodyError::invalid("no endCursor").cut);
}

#[test]
fn status_error_names_everything_an_operator_needs() {
    let e = ApiError::Status {
        integration: "acme".into(),
        api: Api::Monitor,
        status: 400,
        code: Some("INVALID_REQUEST_PARAMETER".into()),
        message: Some("bad cursor".into()),
        trace: Some("trace-123".into()),
    };
    let s = e.to_string();
    for part in [
        "acme",
        "monitor",
        "400",
        "INVALID_REQUEST_PARAMETER",
        "bad cursor",
        "trace-123",
    ] {
        assert!(s.contains(part), "{s} lacks {part}");
    }
}
