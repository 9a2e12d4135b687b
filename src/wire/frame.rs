//! Framing: each frame is one JSON text followed by one `0x0C` byte.
//!
//! The decoder keeps the unfinished tail of the stream and remembers how far
//! it has already searched, so the cost of receiving is linear in the bytes
//! received however the peer chunks them (the original re-scans its whole
//! buffer on every chunk).

use bytes::{Buf, BytesMut};

/// The frame delimiter, `\f`.
pub const DELIMITER: u8 = 0x0c;

/// Default largest frame accepted, delimiter excluded (16 MiB).
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// A frame larger than the limit: the connection cannot be resynchronised
/// cheaply, so it is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("frame exceeds the limit of {limit} bytes")]
pub struct FrameTooLarge {
    pub limit: usize,
}

/// Splits a byte stream into frames.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    /// Bytes of `buf` already searched for a delimiter.
    scanned: usize,
    /// Bytes at the front of `buf` that belong to the frame last lent by
    /// [`next_frame_slice`](Self::next_frame_slice), dropped on the next call.
    lent: usize,
    max_frame: usize,
}

impl FrameDecoder {
    pub fn new(max_frame: usize) -> Self {
        FrameDecoder {
            buf: BytesMut::with_capacity(8 * 1024),
            scanned: 0,
            lent: 0,
            max_frame,
        }
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.drop_lent();
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer to read into directly, saving a copy (tokio's
    /// `read_buf`).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        self.drop_lent();
        &mut self.buf
    }

    /// Bytes held for a frame not yet complete.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.lent
    }

    fn drop_lent(&mut self) {
        if self.lent > 0 {
            self.buf.advance(self.lent);
            self.lent = 0;
        }
    }

    /// The next complete frame (without its delimiter), if one has arrived.
    /// Errors when the unfinished frame has grown past the limit.
    pub fn next_frame(&mut self) -> Result<Option<BytesMut>, FrameTooLarge> {
        self.drop_lent();
        Ok(self.find()?.map(|end| {
            let frame = self.buf.split_to(end);
            self.buf.advance(1);
            frame
        }))
    }

    /// [`next_frame`](Self::next_frame), lent from the decoder's buffer
    /// rather than split off it (no reference counting per frame): valid
    /// until the decoder is used again.
    pub fn next_frame_slice(&mut self) -> Result<Option<&[u8]>, FrameTooLarge> {
        self.drop_lent();
        Ok(self.find()?.map(|end| {
            self.lent = end + 1;
            &self.buf[..end]
        }))
    }

    /// Where the next frame ends, if it has arrived.
    fn find(&mut self) -> Result<Option<usize>, FrameTooLarge> {
        match memchr::memchr(DELIMITER, &self.buf[self.scanned..]) {
            Some(off) => {
                let end = self.scanned + off;
                self.scanned = 0;
                if end > self.max_frame {
                    return Err(FrameTooLarge {
                        limit: self.max_frame,
                    });
                }
                Ok(Some(end))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() > self.max_frame {
                    return Err(FrameTooLarge {
                        limit: self.max_frame,
                    });
                }
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(chunks: &[&[u8]], max: usize) -> Result<Vec<Vec<u8>>, FrameTooLarge> {
        let mut d = FrameDecoder::new(max);
        let mut out = vec![];
        for c in chunks {
            d.extend(c);
            while let Some(f) = d.next_frame()? {
                out.push(f.to_vec());
            }
        }
        Ok(out)
    }

    #[test]
    fn splits_on_form_feed_whatever_the_chunking() {
        let stream = b"{\"a\":1}\x0c{\"b\":2}\x0c{\"c\"";
        let whole = frames_of(&[stream], 100).unwrap();
        assert_eq!(whole, vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]);
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(frames_of(&bytewise, 100).unwrap(), whole);
    }

    #[test]
    fn lent_frames_are_the_same_frames() {
        let stream = b"{\"a\":1}\x0c\x0c{\"b\":2}\x0c{\"c\"";
        for size in [1, 2, 5, stream.len()] {
            let mut d = FrameDecoder::new(100);
            let mut out = vec![];
            for c in stream.chunks(size) {
                d.extend(c);
                while let Some(f) = d.next_frame_slice().unwrap() {
                    out.push(f.to_vec());
                }
            }
            assert_eq!(out, frames_of(&[stream], 100).unwrap(), "{size}");
            assert_eq!(d.pending(), 4);
        }
    }

    #[test]
    fn empty_frames_are_frames() {
        assert_eq!(
            frames_of(&[b"\x0c\x0c"], 10).unwrap(),
            vec![Vec::<u8>::new(), vec![]]
        );
    }

    #[test]
    fn an_endless_frame_hits_the_limit() {
        let mut d = FrameDecoder::new(8);
        d.extend(b"0123456");
        assert_eq!(d.next_frame(), Ok(None));
        d.extend(b"89");
        assert_eq!(d.next_frame(), Err(FrameTooLarge { limit: 8 }));
        assert_eq!(
            frames_of(&[b"0123456789\x0c"], 8),
            Err(FrameTooLarge { limit: 8 })
        );
        assert!(frames_of(&[b"01234567\x0c"], 8).is_ok());
    }
}
