//! OAuth JWT Grant: assertions, the token cache, userinfo and consent URLs.

pub mod key;
