//! The timers of the client role, in one table: the held body's `100
//! Continue` wait, the response head's and the body's — each armed by the
//! state it guards, with time passed in.

use std::time::Instant;

use gruvi_body::BodyError;

use super::{Client, Reading, ResponseError, Sending};

#[derive(Debug, Default)]
pub(super) struct Timers {
    /// When the oldest request became the one awaited (the response before
    /// it ended).
    pub(super) front_since: Option<Instant>,
    /// Nothing in flight since then.
    pub(super) idle_since: Option<Instant>,
}

/// Which timer [`Client::handle_timeout`] applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientExpired {
    /// No `100 Continue` came in time: the held body is sent anyway.
    ExpectContinue,
    /// No response head came in time: every request waiting fails.
    Response,
    /// A response body stopped arriving: it fails, and the connection.
    Body,
}

impl Client {
    /// When [`handle_timeout`](Self::handle_timeout) must run next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timer().map(|(deadline, _)| deadline)
    }

    fn next_timer(&self) -> Option<(Instant, ClientExpired)> {
        let mut earliest: Option<(Instant, ClientExpired)> = None;
        let mut arm = |deadline: Option<Instant>, expired: ClientExpired| {
            if let Some(deadline) = deadline {
                if earliest.is_none_or(|(current, _)| deadline < current) {
                    earliest = Some((deadline, expired));
                }
            }
        };
        if let Sending::Body {
            held_until: Some(until),
            ..
        } = self.sending
        {
            arm(Some(until), ClientExpired::ExpectContinue);
        }
        match self.reading {
            // The oldest request's response, once it is written whole and
            // its turn has come.
            Reading::Head if !self.peer_eof => {
                if let (Some(front), Some(limit)) =
                    (self.in_flight.front(), self.config.response_timeout)
                {
                    let since = match (front.sent, self.timers.front_since) {
                        (Some(sent), Some(turn)) => Some(sent.max(turn)),
                        (sent, _) => sent,
                    };
                    arm(since.map(|since| since + limit), ClientExpired::Response);
                }
            }
            // Waiting on the server for body bytes (a paused reader means
            // the caller is the slow one).
            Reading::Body { ref body, .. } if self.read_buf.is_empty() && !self.peer_eof => {
                if let (Some(since), Some(limit)) =
                    (body.progress_timer(), self.config.body_read_timeout)
                {
                    arm(Some(since + limit), ClientExpired::Body);
                }
            }
            _ => {}
        }
        earliest
    }

    /// Applies the timer due at `now`, if one is: a held body is released;
    /// a response head or body that did not come in time fails every
    /// request waiting (a `Failed` event follows). Returns which expired.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<ClientExpired> {
        let (deadline, expired) = self.next_timer()?;
        if now < deadline {
            return None;
        }
        match expired {
            ClientExpired::ExpectContinue => {
                if let Sending::Body { held_until, .. } = &mut self.sending {
                    *held_until = None;
                }
            }
            ClientExpired::Response => {
                self.reading = Reading::Done;
                self.pending_failure = Some(ResponseError::TimedOut);
            }
            ClientExpired::Body => {
                self.reading = Reading::Done;
                let error = ResponseError::Body(BodyError::timed_out());
                self.pending_failure = Some(error);
            }
        }
        Some(expired)
    }
}
