//! Demos of Starling. The fleet demo is `cargo run --release --example fleet`.
