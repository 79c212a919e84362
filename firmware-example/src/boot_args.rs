//! The command line QEMU hands to the program over semihosting
//! (`-semihosting-config enable=on,arg=sensor-node,arg=id=2,...`): whitespace-separated
//! `key=value` words, so one ELF can play several replicas.

use core::net::SocketAddrV4;
use core::str::FromStr;

/// Longest command line kept.
pub const MAX_LEN: usize = 256;

/// Semihosting operation `SYS_GET_CMDLINE`.
const SYS_GET_CMDLINE: usize = 0x15;

/// A command line: words of `key=value`.
pub struct BootArgs {
    bytes: [u8; MAX_LEN],
    len: usize,
}

/// Why a value could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum ArgError {
    /// The debugger returned no command line, or one that is not UTF-8.
    Unavailable,
    /// A value does not parse (the key is given).
    Invalid(&'static str),
}

impl BootArgs {
    /// The command line of this run, read over semihosting.
    pub fn read() -> Result<Self, ArgError> {
        let mut bytes = [0u8; MAX_LEN];
        let mut block: [usize; 2] = [bytes.as_mut_ptr() as usize, MAX_LEN];
        // SAFETY: SYS_GET_CMDLINE writes at most `block[1]` bytes to `block[0]` and the
        // length it wrote back into `block[1]`; both point into live locals.
        let status =
            unsafe { cortex_m_semihosting::syscall1(SYS_GET_CMDLINE, block.as_mut_ptr() as usize) };
        // SAFETY: `block` is a live local the host may have written to.
        let len = unsafe { core::ptr::read_volatile(&block[1]) };
        if status != 0 || len > MAX_LEN {
            return Err(ArgError::Unavailable);
        }
        Self::from_bytes(&bytes[..len])
    }

    /// A command line from its text (for tests and other loaders); at most [`MAX_LEN`]
    /// bytes are kept.
    pub fn from_bytes(text: &[u8]) -> Result<Self, ArgError> {
        let len = text.len().min(MAX_LEN);
        core::str::from_utf8(&text[..len]).map_err(|_| ArgError::Unavailable)?;
        let mut bytes = [0u8; MAX_LEN];
        bytes[..len].copy_from_slice(&text[..len]);
        Ok(BootArgs { bytes, len })
    }

    /// The whole command line.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    /// The values of every `key=value` word with this key, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.as_str()
            .split_ascii_whitespace()
            .filter_map(move |word| {
                let (k, v) = word.split_once('=')?;
                (k == key).then_some(v)
            })
    }

    /// The value of the last `key=value` word with this key.
    pub fn get<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.all(key).last()
    }

    /// The value under `key` parsed as `T`, `default` if absent.
    pub fn parse_or<T: FromStr>(&self, key: &'static str, default: T) -> Result<T, ArgError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ArgError::Invalid(key)),
        }
    }

    /// Every value under `key` parsed as `ip:port`, written into `out`; how many.
    pub fn endpoints(
        &self,
        key: &'static str,
        out: &mut [SocketAddrV4],
    ) -> Result<usize, ArgError> {
        let mut n = 0;
        for value in self.all(key) {
            let slot = out.get_mut(n).ok_or(ArgError::Invalid(key))?;
            *slot = value.parse().map_err(|_| ArgError::Invalid(key))?;
            n += 1;
        }
        Ok(n)
    }
}
