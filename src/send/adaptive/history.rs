//! What the controller remembers of the run: when requests were sent, which the server
//! accepted since each congestion event, the gaps in sending (pauses), and the longest window
//! the server showed. From it come the rate measured now, the rate the server accepted
//! between two congestion events, and the suggestion for next time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window over which the sent rate is measured.
const WINDOW: Duration = Duration::from_secs(1);
/// A gap in sending this long starts a new measurement (a pause, a stall).
const GAP: Duration = Duration::from_millis(500);
/// The shortest measurement worth trusting.
const MIN_MEASURE: Duration = Duration::from_millis(200);
/// How long send times are kept: answers may come this long after their request.
const MAX_HISTORY: Duration = Duration::from_secs(120);
/// The shortest span between two congestion events whose accepted rate is trusted.
const MIN_SPAN: Duration = Duration::from_secs(2);
/// A throttled spell longer than this reveals a window longer than a second.
const LONG_SPELL: Duration = Duration::from_secs(5);
/// How many of its longest windows the run must cover, after the first congestion event,
/// for its accepted rate to be within 11% of the sustained limit (see [`History::suggest`]).
const COVER: u32 = 8;
/// The window lengths vendors use; a wait or a spell is rounded up to one of them.
const WINDOWS: [u64; 6] = [1, 10, 60, 600, 3600, 86_400];

/// The shortest window length vendors use that holds `length` (a second at least).
pub(super) fn natural_window(length: Duration) -> Duration {
    let seconds = length.as_secs_f64();
    let natural = WINDOWS
        .iter()
        .copied()
        .find(|w| *w as f64 >= seconds)
        .unwrap_or(WINDOWS[WINDOWS.len() - 1]);
    Duration::from_secs(natural)
}

/// A clean span: sending between two congestion events, no pause inside.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: Instant,
    accepted: u64,
    last: Instant,
}

impl Span {
    fn length(&self) -> Duration {
        self.last.saturating_duration_since(self.start)
    }
}

/// The run's sending history, as the controller needs it.
#[derive(Debug, Clone, Default)]
pub(super) struct History {
    /// Send times, oldest first, kept for `MAX_HISTORY` or the longest answer time seen.
    sends: VecDeque<Instant>,
    /// The first send after the last gap: measurements never reach back past it.
    resumed: Option<Instant>,
    /// The longest time from a send to its answer seen so far.
    longest_answer: Duration,
    /// The send time of the request whose 429 was the last congestion event.
    last_event: Option<Instant>,
    /// Requests sent after `last_event` that the server accepted.
    accepted_since_event: u64,
    /// Time without sending since `last_event` (pauses for `Retry-After` or backoff).
    gaps_since_event: Duration,
    /// When the last congestion event's 429 came: the clean span of the suggestion starts at
    /// the first send after it (after the pause it called for).
    awaiting_span: Option<Instant>,
    /// The clean span going on: from its first send, requests accepted, the last one's send.
    span: Option<Span>,
    /// The longest clean span closed by an event since the limit last changed.
    best_span: Option<Span>,
    /// From the first congestion event on, pauses included: what the run got once the
    /// server began to throttle.
    since_first_event: Option<Span>,
    /// When the current spell of 429s began (answer time), if one is going on.
    spell: Option<Instant>,
    /// The longest window the server showed: a `Retry-After`, a long throttled spell or a
    /// rate-limit header's window, rounded up to a length vendors use; at least a second.
    longest_window: Duration,
}

impl History {
    /// Records a request sent at `at`.
    pub(super) fn on_send(&mut self, at: Instant) {
        if self.awaiting_span.is_some_and(|event| at >= event) {
            self.awaiting_span = None;
            self.span = Some(Span {
                start: at,
                accepted: 0,
                last: at,
            });
        }
        match self.sends.back() {
            Some(last) if at.saturating_duration_since(*last) < GAP => {}
            Some(last) => {
                self.resumed = Some(at);
                if self.last_event.is_some_and(|e| *last >= e) {
                    self.gaps_since_event += at.saturating_duration_since(*last);
                }
            }
            None => self.resumed = Some(at),
        }
        // Kept in order whoever calls (a time read just before another thread's): the
        // counts search it.
        self.sends
            .push_back(self.sends.back().map_or(at, |last| at.max(*last)));
        let keep = (self.longest_answer + WINDOW).min(MAX_HISTORY);
        while let Some(first) = self.sends.front() {
            if at.saturating_duration_since(*first) > keep {
                self.sends.pop_front();
            } else {
                break;
            }
        }
    }

    /// Records an answer to a request sent at `sent_at`, answered at `answered_at`:
    /// `accepted` if the server took it, `throttled` if it was a 429.
    pub(super) fn on_answer(
        &mut self,
        sent_at: Instant,
        answered_at: Instant,
        accepted: bool,
        throttled: bool,
    ) {
        self.longest_answer = self
            .longest_answer
            .max(answered_at.saturating_duration_since(sent_at));
        if throttled {
            self.spell.get_or_insert(answered_at);
        }
        if !accepted {
            return;
        }
        if let Some(began) = self.spell.take() {
            let spell = answered_at.saturating_duration_since(began);
            if spell > LONG_SPELL {
                self.saw_window(spell);
            }
        }
        if self.last_event.is_some_and(|e| sent_at > e) {
            self.accepted_since_event += 1;
        }
        if let Some(span) = self.since_first_event.as_mut()
            && sent_at > span.start
        {
            span.accepted += 1;
            span.last = span.last.max(sent_at);
        }
        if let Some(span) = self.span.as_mut()
            && sent_at >= span.start
        {
            span.accepted += 1;
            span.last = span.last.max(sent_at);
        }
    }

    /// A window of at least `length` exists on the server (a `Retry-After` that long, a
    /// rate-limit header's window).
    pub(super) fn saw_window(&mut self, length: Duration) {
        self.longest_window = self.longest_window.max(natural_window(length));
    }

    /// A congestion event: the request sent at `sent_at` was throttled (answered at
    /// `answered_at`). Returns the rate the server accepted since the last event, if the span
    /// is long enough to trust: requests accepted over the time spent sending (a pause
    /// counted as a window would wrongly lower a window limiter's estimate: the client does
    /// not burst after it; a bucket's refill during it is left in, a little high). A burst that a token bucket lets through right after its start
    /// is not in it, unlike in the rate sent in the second before.
    pub(super) fn on_event(&mut self, sent_at: Instant, answered_at: Instant) -> Option<f64> {
        let accepted = self.last_event.and_then(|last| {
            let span = sent_at.saturating_duration_since(last);
            let busy = span.saturating_sub(self.gaps_since_event);
            (span >= MIN_SPAN && busy >= WINDOW)
                .then(|| self.accepted_since_event as f64 / busy.as_secs_f64())
        });
        self.last_event = Some(sent_at);
        self.accepted_since_event = 0;
        self.gaps_since_event = Duration::ZERO;
        if let Some(span) = self.span.take()
            && self
                .best_span
                .is_none_or(|best| best.length() < span.length())
        {
            self.best_span = Some(span);
        }
        self.awaiting_span = Some(answered_at);
        self.since_first_event.get_or_insert(Span {
            start: sent_at,
            accepted: 0,
            last: sent_at,
        });
        accepted
    }

    /// The limit changed at the event of the request sent at `sent_at` (the estimate moved
    /// by more than a tenth): the suggestion measures from there, not across the change.
    pub(super) fn limit_changed(&mut self) {
        self.best_span = None;
    }

    /// The rate sent in the second before `at` (or since sending resumed after a gap, if that
    /// is shorter); `None` if too little was sent to tell.
    pub(super) fn measured(&self, at: Instant) -> Option<f64> {
        let resumed = self.resumed?;
        let start = at.checked_sub(WINDOW).map_or(resumed, |s| s.max(resumed));
        let span = at.saturating_duration_since(start);
        if span < MIN_MEASURE {
            return None;
        }
        Some(self.count_sends(start, at) as f64 / span.as_secs_f64())
    }

    /// Sends in `[start, end)`: two binary searches, since the send times are in order. A
    /// walk over the window cost a step per request sent in the last second on every
    /// answer: at 20,000 rows a second, a fifth of the run's CPU (BENCHMARKS.md, section 7).
    fn count_sends(&self, start: Instant, end: Instant) -> usize {
        let before_end = self.sends.partition_point(|t| *t < end);
        let before_start = self.sends.partition_point(|t| *t < start);
        before_end.saturating_sub(before_start)
    }

    /// The longest window the server showed (a second if none longer).
    pub(super) fn longest_window(&self) -> Duration {
        self.longest_window.max(WINDOW)
    }

    /// The rate the server took from the first congestion event to the last request it
    /// accepted, pauses included: a fact about this run, not a limit (a run paused by 429s
    /// gets less than the server would sustain).
    pub(super) fn accepted_after_throttling(&self) -> Option<f64> {
        let span = self.since_first_event?;
        let length = span.length();
        (length >= WINDOW).then(|| span.accepted as f64 / length.as_secs_f64())
    }

    /// The rate to pass as `--rate` next time: what the server accepted over the longest
    /// clean span (from the first send after a congestion event's pause to the next event, or
    /// to now) since the limit last changed, over that span plus the longest window `W`
    /// seen. The limiter was full at the event: a limiter of L per W accepts at most
    /// L × (span / W + 1) in a span, and a bucket filling at r, with what it refilled during
    /// the pause (a `Retry-After` is at most its window), at most r × (span + W) + 1; so this
    /// is never above the sustained limit. It is within 11% of what was accepted once the
    /// span covers [`COVER`] windows, and `None` before that (nothing rather than something
    /// wrong).
    pub(super) fn suggest(&self) -> Option<f64> {
        let span = [self.best_span, self.span]
            .into_iter()
            .flatten()
            .max_by_key(Span::length)?;
        let window = self.longest_window();
        if span.length() < window * COVER {
            return None;
        }
        Some(span.accepted as f64 / (span.length() + window).as_secs_f64())
    }
}
