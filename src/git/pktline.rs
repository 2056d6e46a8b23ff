//! pkt-line framing of git's wire protocol: 4 hex digits of length (including themselves),
//! then the payload; `0000` flush, `0001` delimiter, `0002` response end.

use crate::error::{Error, Result};

pub const FLUSH: &[u8] = b"0000";
pub const DELIM: &[u8] = b"0001";

/// Largest payload of one pkt-line (65520 minus the 4 length bytes).
pub const MAX_PAYLOAD: usize = 65516;

/// Frame one payload.
pub fn pkt(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:04x}", data.len() + 4).into_bytes();
    out.extend_from_slice(data);
    out
}

/// Frame one text line (a `\n` is appended).
pub fn line(s: &str) -> Vec<u8> {
    pkt(format!("{s}\n").as_bytes())
}

/// One decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkt<'a> {
    Data(&'a [u8]),
    Flush,
    Delim,
    ResponseEnd,
}

impl<'a> Pkt<'a> {
    /// Payload as text without its trailing newline.
    pub fn text(&self) -> Option<&'a str> {
        match self {
            Pkt::Data(d) => std::str::from_utf8(d)
                .ok()
                .map(|s| s.strip_suffix('\n').unwrap_or(s)),
            _ => None,
        }
    }
}

/// Reads pkt-lines from a buffer; `rest()` gives what follows (a pack, say).
pub struct PktReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn bad(msg: &str) -> Error {
    Error::bad_request(format!("Malformed pkt-line: {msg}"))
}

impl<'a> PktReader<'a> {
    pub fn new(buf: &'a [u8]) -> PktReader<'a> {
        PktReader { buf, pos: 0 }
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next packet; `None` at the end of the buffer.
    pub fn next_pkt(&mut self) -> Result<Option<Pkt<'a>>> {
        if self.at_end() {
            return Ok(None);
        }
        if self.buf.len() - self.pos < 4 {
            return Err(bad("truncated length"));
        }
        let hex = std::str::from_utf8(&self.buf[self.pos..self.pos + 4])
            .map_err(|_| bad("length is not hex"))?;
        let len = usize::from_str_radix(hex, 16).map_err(|_| bad("length is not hex"))?;
        self.pos += 4;
        match len {
            0 => return Ok(Some(Pkt::Flush)),
            1 => return Ok(Some(Pkt::Delim)),
            2 => return Ok(Some(Pkt::ResponseEnd)),
            3 => return Err(bad("invalid length 3")),
            _ => {}
        }
        let n = len - 4;
        if self.buf.len() - self.pos < n {
            return Err(bad("truncated payload"));
        }
        let data = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(Some(Pkt::Data(data)))
    }
}

/// Frame `data` as side-band packets on `band` (1 data, 2 progress, 3 error).
pub fn sideband(band: u8, data: &[u8], out: &mut Vec<u8>) {
    for chunk in data.chunks(MAX_PAYLOAD - 1) {
        out.extend_from_slice(format!("{:04x}", chunk.len() + 5).as_bytes());
        out.push(band);
        out.extend_from_slice(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_errors() {
        let mut buf = line("hello");
        buf.extend_from_slice(FLUSH);
        buf.extend_from_slice(b"PACKrest");
        let mut r = PktReader::new(&buf);
        assert_eq!(r.next_pkt().unwrap().unwrap().text(), Some("hello"));
        assert_eq!(r.next_pkt().unwrap(), Some(Pkt::Flush));
        assert_eq!(r.rest(), b"PACKrest");
        assert!(PktReader::new(b"00zz").next_pkt().is_err());
        assert!(PktReader::new(b"0010abc").next_pkt().is_err());
        assert!(PktReader::new(b"0003").next_pkt().is_err());
        assert!(PktReader::new(b"00").next_pkt().is_err());
    }
}
