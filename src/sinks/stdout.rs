//! stdout sink
