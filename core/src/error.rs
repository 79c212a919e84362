//! The error types: one small enum per kind of failure.

use core::fmt;

/// A mutation or join did not fit the fixed capacity of the state.
///
/// The operation that returned it changed nothing: the state is exactly as it was
/// before the call. Recover by freeing room (for example removing entries), by
/// choosing a larger capacity, or by using the growable storage (`Growable`,
/// feature `alloc`), which never returns this error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CapacityError;

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fixed capacity exceeded; the state was left unchanged")
    }
}

impl core::error::Error for CapacityError {}

/// Encoding a value into a caller-provided buffer failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// The buffer is too small for the encoded value. Retry with a larger buffer;
    /// [`crate::WireFormat::encoded_len`] tells the size needed.
    BufferTooSmall,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall => f.write_str("output buffer too small"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Decoding bytes into a value failed. Nothing was changed.
///
/// Decoders treat their input as untrusted: any byte string yields either a valid
/// value or one of these errors, never a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DecodeError {
    /// The input was empty: not even the version byte was present.
    Empty,
    /// The first byte names a wire-format version this build does not speak.
    UnsupportedVersion(u8),
    /// The input is longer than the limit the caller allowed; it was not parsed.
    TooLong,
    /// The input ended in the middle of a value.
    Truncated,
    /// Bytes were left over after a complete value.
    TrailingBytes,
    /// The bytes are not a well-formed encoding (bad varint, enum tag, UTF-8, ...).
    Malformed,
    /// The bytes are well formed but describe a state no replica can be in:
    /// keys out of canonical order, a dot missing from its causal context, more
    /// entries than a fixed capacity holds, an empty entry that must not exist.
    Invalid,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty input"),
            DecodeError::UnsupportedVersion(v) => write!(f, "unsupported wire format version {v}"),
            DecodeError::TooLong => f.write_str("input longer than the allowed limit"),
            DecodeError::Truncated => f.write_str("input ended inside a value"),
            DecodeError::TrailingBytes => f.write_str("bytes left over after the value"),
            DecodeError::Malformed => f.write_str("malformed encoding"),
            DecodeError::Invalid => f.write_str("encoding describes an invalid state"),
        }
    }
}

impl core::error::Error for DecodeError {}
