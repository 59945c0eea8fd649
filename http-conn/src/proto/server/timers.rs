//! The timers of the server role, in one table: each armed by the state
//! it guards, with time passed in.

use std::time::{Duration, Instant};

use gruvi_body::BodyError;

use super::{Answer, BodyNotice, Expired, PeerError, Reading, Responding, Server};

/// The instants the timers count from; [`ServerConfig`] says for how long.
#[derive(Debug, Default)]
pub(super) struct Timers {
    /// The connection opened and no byte came yet (the first request's
    /// head timer starts here).
    pub(super) opened: Option<Instant>,
    /// The connection became idle (nothing buffered, nothing owed).
    pub(super) idle_since: Option<Instant>,
    /// The first byte of the head being read arrived.
    pub(super) head_started: Option<Instant>,
    /// The body being read started (its head arrived).
    pub(super) body_started: Option<Instant>,
}

impl Server {
    /// When [`handle_timeout`](Self::handle_timeout) must run next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timer().map(|(deadline, _)| deadline)
    }

    /// The earliest armed timer, with what expires then. One table for the
    /// connection: each timer is armed by the state it guards.
    fn next_timer(&self) -> Option<(Instant, Expired)> {
        let c = &self.config;
        let t = &self.timers;
        let after = |since: Option<Instant>, limit: Option<Duration>| Some(since? + limit?);
        let mut earliest: Option<(Instant, Expired)> = None;
        let mut arm = |deadline: Option<Instant>, expired: Expired| {
            if let Some(deadline) = deadline {
                if earliest.is_none_or(|(current, _)| deadline < current) {
                    earliest = Some((deadline, expired));
                }
            }
        };
        match &self.reading {
            Reading::Head if !self.may_parse_head() => {}
            Reading::Head => {
                if t.head_started.is_some() {
                    arm(after(t.head_started, c.header_read_timeout), Expired::Head);
                } else if t.opened.is_some() {
                    // A new connection: its first request must start within
                    // the header-read timeout (it is not an idle keep-alive
                    // connection, kept for longer), or the idle timeout if
                    // that is shorter.
                    arm(after(t.opened, c.header_read_timeout), Expired::Idle);
                    arm(after(t.opened, c.idle_timeout), Expired::Idle);
                } else if self.in_flight.is_empty() {
                    arm(after(t.idle_since, c.idle_timeout), Expired::Idle);
                }
            }
            // Waiting on the peer for body bytes (a paused reader means the
            // application is the slow one). A client waiting for `100
            // Continue` is not late either: it is waiting for us.
            Reading::Body(body) => {
                let awaits_continue = self
                    .in_flight
                    .iter()
                    .any(|e| e.id == body.id && e.continue_.awaited());
                if !awaits_continue && !self.peer_eof {
                    if self.read_buf.is_empty() {
                        arm(
                            after(body.progress_timer(), c.body_read_timeout),
                            Expired::Body,
                        );
                    }
                    arm(after(t.body_started, c.body_deadline), Expired::Body);
                }
            }
            Reading::Done => {}
        }
        // The application's turn to start a response.
        if let (Some(limit), Some(front), Responding::Idle) =
            (c.response_timeout, self.current(), &self.responding)
        {
            if front.answer == Answer::Application {
                arm(Some(front.arrived + limit), Expired::Response);
            }
        }
        earliest
    }

    /// Applies the timer due at `now`, if one is: a head that took too long
    /// is answered `408` and the connection closes; an idle connection
    /// closes quietly; a body that stopped arriving fails (a `BodyFailed`
    /// event, `408` if its response has not started); a response the
    /// application did not start in time is answered `503`. Returns which
    /// one expired.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Expired> {
        let (deadline, expired) = self.next_timer()?;
        if now < deadline {
            return None;
        }
        match expired {
            Expired::Head => {
                self.reject(PeerError::HeadTimedOut, now);
                self.rejected = Some(PeerError::HeadTimedOut);
            }
            Expired::Idle => self.end_now(),
            Expired::Body => {
                if let Reading::Body(body) = &self.reading {
                    let (id, delivered) = (body.id, !body.is_drained());
                    self.stop_reading();
                    let error = BodyError::timed_out();
                    if delivered {
                        self.body_notice = Some(BodyNotice::Failed(id, error.clone()));
                    }
                    self.body_failed(id, error, now);
                }
            }
            Expired::Response => {
                if let Some(id) = self.current().map(|e| e.id) {
                    self.answer_for_application(id, 503, now);
                }
            }
        }
        Some(expired)
    }
}
