//! The private keys' tests: fixtures in `tests/fixtures/`, repairs, refusals, and messages
//! that never quote a key.

use super::*;
use std::path::Path;

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

fn invalid_message(r: Result<PrivateKey, KeyError>) -> String {
    match r {
        Err(KeyError::Invalid(m)) => m,
        other => panic!("expected KeyError::Invalid, got {other:?}"),
    }
}

#[test]
fn pkcs1_and_pkcs8_give_the_same_fingerprint() {
    let a = parse_pem(&fixture("rsa_pkcs1.pem")).expect("pkcs1");
    let b = parse_pem(&fixture("rsa_pkcs8.pem")).expect("pkcs8");
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_eq!(a.fingerprint().len(), 16);
    assert!(a.fingerprint().chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn fingerprint_matches_the_public_key() {
    use rsa::pkcs1::DecodeRsaPublicKey;
    let public = rsa::RsaPublicKey::from_pkcs1_pem(&fixture("rsa_pkcs1.pub.pem")).expect("pub");
    let digest = Sha256::digest(public.n().to_bytes_be());
    let expected: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let key = parse_pem(&fixture("rsa_pkcs1.pem")).expect("pkcs1");
    assert_eq!(key.fingerprint(), expected);
}

#[test]
fn signs_rs256_verifiable_with_the_public_key() {
    let key = parse_pem(&fixture("rsa_pkcs8.pem")).expect("pkcs8");
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    let claims = serde_json::json!({"iss": "ik", "sub": "uid", "aud": "x", "exp": 4102444800u64});
    let jwt = jsonwebtoken::encode(&header, &claims, key.encoding_key()).expect("sign");
    let dec = jsonwebtoken::DecodingKey::from_rsa_pem(fixture("rsa_pkcs1.pub.pem").as_bytes())
        .expect("decoding key");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&["x"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(&jwt, &dec, &v).expect("verify");
    assert_eq!(data.claims["sub"], "uid");
}

#[test]
fn repairs_spaces_for_newlines() {
    let pem = fixture("rsa_pkcs1.pem");
    let flattened = pem.trim().replace('\n', " ");
    assert!(!flattened.contains('\n'));
    let key = parse_pem(&format!("  {flattened}  ")).expect("flattened");
    assert_eq!(
        key.fingerprint(),
        parse_pem(&pem).expect("pem").fingerprint()
    );
}

#[test]
fn repairs_literal_backslash_n_and_crlf() {
    let pem = fixture("rsa_pkcs8.pem");
    let literal = pem.trim().replace('\n', "\\n");
    assert!(literal.contains("\\n") && !literal.contains('\n'));
    parse_pem(&literal).expect("literal \\n");
    parse_pem(&pem.replace('\n', "\r\n")).expect("crlf");
    parse_pem(&format!("\n\n  {pem}\n\n")).expect("blanks");
}

#[test]
fn ec_key_is_refused_as_not_rsa() {
    let m = invalid_message(parse_pem(&fixture("ec.pem")));
    assert!(m.contains("is not an RSA key"), "{m}");
}

#[test]
fn pkcs8_ec_key_is_refused_as_not_rsa() {
    let pem = fixture("ec_pkcs8.pem");
    assert!(pem.contains("BEGIN PRIVATE KEY"));
    let m = invalid_message(parse_pem(&pem));
    assert!(m.contains("is not an RSA key") && m.contains("EC"), "{m}");
}

#[test]
fn garbage_public_and_encrypted_are_refused() {
    let m = invalid_message(parse_pem("hello world"));
    assert!(m.contains("not a PEM key"), "{m}");
    let m = invalid_message(parse_pem(&fixture("rsa_pkcs1.pub.pem")));
    assert!(m.contains("not a private key"), "{m}");
    let m = invalid_message(parse_pem(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
    ));
    assert!(m.contains("encrypted"), "{m}");
    let m = invalid_message(parse_pem(
        "-----BEGIN RSA PRIVATE KEY-----\nAAAAAAAAAAAA\n-----END RSA PRIVATE KEY-----",
    ));
    assert!(m.contains("not a valid PKCS#1"), "{m}");
    let m = invalid_message(parse_pem("-----BEGIN PRIVATE KEY-----\nAAAA"));
    assert!(m.contains("no matching"), "{m}");
}

#[test]
fn errors_never_contain_key_material() {
    let pem = fixture("rsa_pkcs1.pem");
    let body_line = pem.lines().nth(1).expect("body line").to_string();
    let damaged = pem.replacen(&body_line[..20], "!!!!!!!!!!!!!!!!!!!!", 1);
    let m = invalid_message(parse_pem(&damaged));
    assert!(!m.contains(&body_line[20..40]), "{m}");
}

#[test]
fn a_damaged_begin_or_end_line_never_brings_the_key_into_the_message() {
    let pem = fixture("rsa_pkcs1.pem");
    let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    for damaged in [
        pem.replacen(
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY----",
            1,
        ),
        pem.replacen(
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY",
            1,
        ),
        pem.replacen(
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----BEGIN rsa private key-----",
            1,
        ),
        pem.replacen(
            "-----END RSA PRIVATE KEY-----",
            "-----END RSA PRIVATE KEY",
            1,
        ),
        pem.replacen("-----END RSA PRIVATE KEY-----", "", 1),
        pem.replace('\n', " ").replacen("KEY-----", "KEY----", 1),
    ] {
        let m = invalid_message(parse_pem(&damaged));
        for line in &body {
            assert!(!m.contains(line), "{m}");
            assert!(!m.contains(&line[..16]), "{m}");
        }
    }
}

#[test]
fn debug_output_is_redacted() {
    let pem = fixture("rsa_pkcs1.pem");
    let key = parse_pem(&pem).expect("pkcs1");
    let dbg = format!("{key:?}");
    assert!(dbg.contains("redacted"), "{dbg}");
    let body_line = pem.lines().nth(1).expect("body line");
    assert!(!dbg.contains(body_line), "{dbg}");
    assert!(!dbg.contains("BEGIN"), "{dbg}");
}
