//! A received body as either role reads it: frames decoded from the read
//! buffer and handed to the body's reader — held back while the reader is
//! behind, thrown away (within a bound) once it dropped the body — and
//! when bytes last came, for the body-read timer.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use gruvi_body::{BodyError, Decoder, Frame, Trailers};

/// The body being read, of the message `id`.
#[derive(Debug)]
pub(super) struct ReceivedBody<Id> {
    pub(super) id: Id,
    decoder: Decoder,
    /// Bytes thrown away since the reader dropped the body (`None` while it
    /// reads).
    drained: Option<u64>,
    /// The reader is behind: nothing more is decoded for it (backpressure)
    /// and the body-read timer is off, as the reader is the slow one.
    paused: bool,
    /// When body bytes last came (or the body's wait started).
    progress: Option<Instant>,
}

/// What decoding a received body gave.
pub(super) enum BodyStep {
    /// Nothing until more input (or until the reader catches up).
    Wait,
    /// Data for the reader.
    Data(Bytes),
    /// The body ended; `drained` if nobody was reading it any more.
    End { trailers: Trailers, drained: bool },
    /// More was thrown away than may be: the connection cannot go on.
    Overdrained,
    /// The body is malformed (or cut short); `delivered` if a reader still
    /// had it.
    Failed { error: BodyError, delivered: bool },
}

impl<Id> ReceivedBody<Id> {
    pub(super) fn new(id: Id, decoder: Decoder) -> Self {
        ReceivedBody {
            id,
            decoder,
            drained: None,
            paused: false,
            progress: None,
        }
    }

    /// The reader dropped the body: the rest is thrown away, never held
    /// back.
    pub(super) fn dropped(&mut self) {
        if self.drained.is_none() {
            self.drained = Some(0);
            self.paused = false;
        }
    }

    /// Returns `true` once the reader dropped the body.
    pub(super) fn is_drained(&self) -> bool {
        self.drained.is_some()
    }

    /// Returns `true` while the reader is behind: the socket is not read
    /// for it meanwhile.
    pub(super) fn is_paused(&self) -> bool {
        self.paused
    }

    /// The reader fell behind (`true`) or caught up (`false`). Returns
    /// `true` if this resumed a paused body: the connection reads again.
    /// A resumed body's timer counts from now: the wait was the reader's.
    /// A dropped body has no reader to wait for.
    pub(super) fn set_paused(&mut self, paused: bool, now: Instant) -> bool {
        let paused = paused && self.drained.is_none();
        let resumed = self.paused && !paused;
        if resumed && self.progress.is_some() {
            self.progress = Some(now);
        }
        self.paused = paused;
        resumed
    }

    /// The peer's time to send the body starts again (its wait for `100
    /// Continue` is over: the next decoding starts the clock).
    pub(super) fn restart_clock(&mut self) {
        self.progress = None;
    }

    /// When the body-read timer counts from, while it runs: not while the
    /// reader is the slow one.
    pub(super) fn progress_timer(&self) -> Option<Instant> {
        if self.paused { None } else { self.progress }
    }

    /// Decodes what `buf` holds: the next step, after throwing away what a
    /// dropped body's data amount to (up to `max_drain` bytes in all).
    pub(super) fn step(
        &mut self,
        buf: &mut BytesMut,
        input_ended: bool,
        now: Instant,
        max_drain: u64,
    ) -> BodyStep {
        loop {
            if self.paused {
                return BodyStep::Wait;
            }
            let frame = self.decoder.decode_input(buf, input_ended);
            if matches!(frame, Ok(Some(Frame::Data(_)))) || self.progress.is_none() {
                self.progress = Some(now);
            }
            return match frame {
                Ok(None) => BodyStep::Wait,
                Ok(Some(Frame::Data(data))) => match &mut self.drained {
                    None => BodyStep::Data(data),
                    Some(drained) => {
                        *drained += data.len() as u64;
                        if *drained > max_drain {
                            return BodyStep::Overdrained;
                        }
                        continue;
                    }
                },
                Ok(Some(Frame::End(trailers))) => BodyStep::End {
                    trailers,
                    drained: self.drained.is_some(),
                },
                Err(error) => BodyStep::Failed {
                    error,
                    delivered: self.drained.is_none(),
                },
            };
        }
    }
}
