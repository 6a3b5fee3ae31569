//! The event queue: a fixed number of slots, each holding one event's complete multipart body,
//! allocated once at creation. Events leave in submission order; an event whose send failed keeps
//! its place at the front.

use crate::memory::Buf;
use crate::interfaces::splice_context;
use crate::status::AvsStatus;

/// Where an event is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SlotState {
    /// Unused.
    Free,
    /// Waiting to be sent.
    Queued,
    /// On a stream, waiting for response headers.
    InFlight,
    /// Response headers arrived; the stream is still open.
    Answered,
}

#[derive(Clone, Copy)]
struct Slot {
    state: SlotState,
    event_id: u32,
    seq: u64,
    attempts: u32,
    len: usize,
    /// Body bytes already handed to nghttp2.
    sent: usize,
    /// Whether the host asked for this event and expects an outcome for it.
    host_visible: bool,
    /// Namespace and name, for log lines.
    label: [u8; 48],
    label_len: u8,
    /// Where the device context goes in the body (just inside the event JSON's opening brace),
    /// and where the access token goes (a v3 event's `scope`): both are written again each time
    /// the event is sent, so that a retry says what the device's state and token are then.
    context: Option<Hole>,
    bearer: Option<Hole>,
}

/// A span of a body filled in when it is sent.
#[derive(Clone, Copy, Debug)]
struct Hole {
    at: usize,
    len: usize,
}

/// What a v3 event carries in place of the access token until it is sent
/// ([`BEARER_PLACEHOLDER`] as the JSON writer escapes it). Nothing else can produce it: it holds
/// NUL characters, which C strings and the header strings the library accepts cannot.
const BEARER_MARK: &[u8] = b"\\u0000avs-bearer\\u0000";

/// Fixed-capacity event store. Slot `capacity` is reserved for the library's own
/// SynchronizeState, so a full host queue never blocks a reconnect, `INTERNAL_SLOTS` more for
/// the library's other events (SpeechFinished...), so that a host that filled its queue does not
/// make the library drop its own, and `EXCEPTION_SLOTS` for its ExceptionEncountered events.
pub struct EventQueue {
    slots: Box<[Slot]>,
    bodies: Buf,
    body_capacity: usize,
    capacity: usize,
    next_seq: u64,
}

/// The slot index reserved for SynchronizeState.
pub type SlotIndex = usize;

/// Slots only the library's own events use.
pub const INTERNAL_SLOTS: usize = 3;
/// Slots only the library's `System.ExceptionEncountered` events use. Exceptions take these,
/// then library slots as long as two of those stay free for SpeechStarted/SpeechFinished, and
/// never a host slot: a server sending unusable directives can crowd out neither the host's
/// events nor the playback reports. Beyond that an exception is not sent, and the log says so.
pub const EXCEPTION_SLOTS: usize = 2;
/// Library slots an exception leaves free.
const KEPT_FOR_PLAYBACK: usize = 2;
/// Library slots an interface's event (VolumeChanged...) leaves free: interfaces queue their
/// events themselves and hand them over as slots free up, so a burst of them waits in the
/// interface, not in slots the speech reports need.
const KEPT_FOR_INTERFACES: usize = 1;

/// Who an event is for, which decides the slots it may take.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Owner {
    /// The host's own event (`send_event`): the host's slots, with an outcome.
    Host,
    /// The library's SynchronizeState: its reserved slot.
    Sync,
    /// The library's other events (SpeechStarted, SpeechFinished, ExpectSpeechTimedOut...):
    /// the library's slots first, then a free host slot.
    Library,
    /// The library's `System.ExceptionEncountered`: at most `EXCEPTION_SLOTS` library slots.
    Exception,
    /// An interface's event: a library slot, as long as one other stays free.
    Interface,
}

/// Puts the access token, JSON-escaped, in place of `body[at..at + old]`; the new length. The
/// token is printable ASCII (`AuthHeader` took nothing else), so only `"` and `\` need escapes.
fn splice_token(body: &mut [u8], len: usize, at: usize, old: usize, token: &str) -> Result<usize, AvsStatus> {
    let escaped = token.len() + token.bytes().filter(|b| matches!(b, b'"' | b'\\')).count();
    crate::memory::replace_range(body, len, at, old, escaped, |out| {
        let mut i = 0;
        for b in token.bytes() {
            if matches!(b, b'"' | b'\\') {
                out[i] = b'\\';
                i += 1;
            }
            out[i] = b;
            i += 1;
        }
    })
    .ok_or(AvsStatus::TooLarge)
}

impl EventQueue {
    /// `capacity` host events of at most `body_capacity` bytes each (multipart framing included),
    /// their bodies on the heap.
    pub fn new(capacity: usize, body_capacity: usize) -> Self {
        let bytes = Self::bodies_bytes(capacity, body_capacity).expect("queue size fits the address space");
        Self::with_bodies(capacity, body_capacity, Buf::heap(bytes))
    }

    /// Bytes the bodies of such a queue take; `None` when that overflows.
    pub fn bodies_bytes(capacity: usize, body_capacity: usize) -> Option<usize> {
        capacity.checked_add(1 + INTERNAL_SLOTS + EXCEPTION_SLOTS)?.checked_mul(body_capacity)
    }

    /// As [`EventQueue::new`], the bodies in `bodies` ([`EventQueue::bodies_bytes`] long).
    pub fn with_bodies(capacity: usize, body_capacity: usize, bodies: Buf) -> Self {
        assert!(Self::bodies_bytes(capacity, body_capacity).is_some_and(|n| bodies.len() >= n));
        let free = Slot {
            state: SlotState::Free,
            event_id: 0,
            seq: 0,
            attempts: 0,
            len: 0,
            sent: 0,
            host_visible: false,
            label: [0; 48],
            label_len: 0,
            context: None,
            bearer: None,
        };
        EventQueue {
            slots: vec![free; capacity + 1 + INTERNAL_SLOTS + EXCEPTION_SLOTS].into_boxed_slice(),
            bodies,
            body_capacity,
            capacity,
            next_seq: 0,
        }
    }

    /// The slot reserved for the library's SynchronizeState.
    pub fn sync_slot(&self) -> SlotIndex {
        self.capacity
    }

    /// Events currently held (queued or on the wire), the library's own included.
    pub fn len(&self) -> usize {
        self.others().filter(|&i| self.slots[i].state != SlotState::Free).count()
    }

    /// Every slot but SynchronizeState's.
    fn others(&self) -> impl Iterator<Item = SlotIndex> + '_ {
        (0..self.slots.len()).filter(move |&i| i != self.capacity)
    }

    /// Whether no host event is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn body_mut(&mut self, idx: SlotIndex) -> &mut [u8] {
        let start = idx * self.body_capacity;
        &mut self.bodies[start..start + self.body_capacity]
    }

    /// Queues an event whose body `build` writes into a slot `owner` may take; returns the slot.
    pub fn push(
        &mut self,
        event_id: u32,
        label: &str,
        owner: Owner,
        build: impl FnOnce(&mut [u8]) -> Result<usize, AvsStatus>,
    ) -> Result<SlotIndex, AvsStatus> {
        self.push_body(event_id, label, owner, |out| build(out).map(|n| (n, None)))
    }

    /// As [`push`](Self::push), for a body that gets the device context when it is sent:
    /// `build` returns the body's length and the offset the context goes at ([`render_context`](Self::render_context)).
    pub fn push_body(
        &mut self,
        event_id: u32,
        label: &str,
        owner: Owner,
        build: impl FnOnce(&mut [u8]) -> Result<(usize, Option<usize>), AvsStatus>,
    ) -> Result<SlotIndex, AvsStatus> {
        let free = |range: core::ops::Range<usize>, slots: &[Slot]| range.into_iter().find(|&i| slots[i].state == SlotState::Free);
        let internal = self.capacity + 1..self.capacity + 1 + INTERNAL_SLOTS;
        let exceptions = internal.end..self.slots.len();
        let idx = match owner {
            Owner::Sync => Some(self.capacity),
            Owner::Host => free(0..self.capacity, &self.slots),
            Owner::Library => free(internal, &self.slots).or_else(|| free(0..self.capacity, &self.slots)),
            Owner::Interface => {
                let free_library = internal.clone().filter(|&i| self.slots[i].state == SlotState::Free).count();
                if free_library > KEPT_FOR_INTERFACES {
                    free(internal, &self.slots)
                } else {
                    None
                }
            }
            Owner::Exception => free(exceptions, &self.slots).or_else(|| {
                let free_library = internal.clone().filter(|&i| self.slots[i].state == SlotState::Free).count();
                if free_library > KEPT_FOR_PLAYBACK {
                    free(internal, &self.slots)
                } else {
                    None
                }
            }),
        }
        .ok_or(AvsStatus::QueueFull)?;
        let host_visible = owner == Owner::Host;
        let (len, context_at) = match build(self.body_mut(idx)) {
            Ok(built) => built,
            Err(e) => {
                // Half a body may hold a token: nothing of it stays in a free slot.
                crate::client::secret::wipe(self.body_mut(idx));
                return Err(e);
            }
        };
        let bearer = self.body_mut(idx)[..len].windows(BEARER_MARK.len()).position(|w| w == BEARER_MARK).map(|at| Hole { at, len: BEARER_MARK.len() });
        let seq = self.next_seq;
        self.next_seq += 1;
        let s = &mut self.slots[idx];
        *s = Slot {
            state: SlotState::Queued,
            event_id,
            seq,
            attempts: 0,
            len,
            sent: 0,
            host_visible,
            label: [0; 48],
            label_len: 0,
            context: context_at.map(|at| Hole { at, len: 0 }),
            bearer,
        };
        let n = label.len().min(48);
        s.label[..n].copy_from_slice(&label.as_bytes()[..n]);
        s.label_len = n as u8;
        Ok(idx)
    }

    /// The oldest queued event (SynchronizeState's slot is sent by the connection logic itself).
    pub fn next_queued(&self) -> Option<SlotIndex> {
        self.others().filter(|&i| self.slots[i].state == SlotState::Queued).min_by_key(|&i| self.slots[i].seq)
    }

    /// Fills a slot's body in as it is sent (again, on a retry): the device context, whose
    /// items `render` writes into the buffer it is given, and the access `token`.
    pub fn prepare(&mut self, idx: SlotIndex, scratch: &mut [u8], render: impl FnOnce(&mut [u8]) -> Option<usize>, token: &str) -> Result<(), AvsStatus> {
        let Slot { mut context, mut bearer, mut len, .. } = self.slots[idx];
        if let Some(h) = context.as_mut() {
            let n = render(scratch).ok_or(AvsStatus::TooLarge)?;
            let new_len = splice_context(self.body_mut(idx), len, h.at, h.len, &scratch[..n])?;
            let grew = new_len as isize - len as isize;
            len = new_len;
            h.len = (h.len as isize + grew) as usize;
            if let Some(b) = bearer.as_mut().filter(|b| b.at > h.at) {
                b.at = (b.at as isize + grew) as usize;
            }
            // Recorded now: should the token not fit below, the body and its holes still agree.
            let s = &mut self.slots[idx];
            (s.context, s.bearer, s.len) = (context, bearer, len);
        }
        if let Some(b) = bearer.as_mut() {
            let new_len = splice_token(self.body_mut(idx), len, b.at, b.len, token)?;
            b.len = (b.len as isize + new_len as isize - len as isize) as usize;
            len = new_len;
        }
        let s = &mut self.slots[idx];
        (s.context, s.bearer, s.len) = (context, bearer, len);
        Ok(())
    }

    /// Marks a slot as sent on a stream.
    pub fn mark_in_flight(&mut self, idx: SlotIndex) {
        let s = &mut self.slots[idx];
        s.state = SlotState::InFlight;
        s.sent = 0;
        s.attempts += 1;
    }

    /// Response headers arrived for this slot's stream.
    pub fn mark_answered(&mut self, idx: SlotIndex) {
        self.slots[idx].state = SlotState::Answered;
    }

    /// Puts an event back in line, keeping its original position.
    pub fn requeue(&mut self, idx: SlotIndex) {
        let s = &mut self.slots[idx];
        s.state = SlotState::Queued;
        s.sent = 0;
    }

    /// Forgets an event, wiping its body: some events carry the access token (v3 reports'
    /// `scope`), and a freed slot keeps nothing of them.
    pub fn release(&mut self, idx: SlotIndex) {
        let len = self.slots[idx].len;
        crate::client::secret::wipe(&mut self.body_mut(idx)[..len]);
        self.slots[idx].state = SlotState::Free;
        self.slots[idx].len = 0;
    }

    /// State of a slot.
    pub fn state(&self, idx: SlotIndex) -> SlotState {
        self.slots[idx].state
    }

    /// The host's id for the event in a slot.
    pub fn event_id(&self, idx: SlotIndex) -> u32 {
        self.slots[idx].event_id
    }

    /// Whether the host expects an outcome for this slot.
    pub fn host_visible(&self, idx: SlotIndex) -> bool {
        self.slots[idx].host_visible
    }

    /// How many times this event was put on a stream.
    pub fn attempts(&self, idx: SlotIndex) -> u32 {
        self.slots[idx].attempts
    }

    /// `Namespace.Name` of the event, for logs.
    pub fn label(&self, idx: SlotIndex) -> &str {
        let s = &self.slots[idx];
        core::str::from_utf8(&s.label[..s.label_len as usize]).unwrap_or("?")
    }

    /// Copies the next body bytes of a slot into `out`; returns (bytes, finished).
    pub fn read_body(&mut self, idx: SlotIndex, out: &mut [u8]) -> (usize, bool) {
        let start = idx * self.body_capacity;
        let s = &mut self.slots[idx];
        let n = (s.len - s.sent).min(out.len());
        out[..n].copy_from_slice(&self.bodies[start + s.sent..start + s.sent + n]);
        s.sent += n;
        (n, s.sent == s.len)
    }

    /// Slots of events still held (for cancelling them all).
    pub fn held(&self) -> impl Iterator<Item = SlotIndex> + '_ {
        self.others().filter(|&i| self.slots[i].state != SlotState::Free)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(q: &mut EventQueue, id: u32, body: &[u8]) -> Result<SlotIndex, AvsStatus> {
        q.push(id, "T.E", Owner::Host, |out| {
            out.get_mut(..body.len()).ok_or(AvsStatus::TooLarge)?.copy_from_slice(body);
            Ok(body.len())
        })
    }

    #[test]
    fn fifo_full_and_requeue_keeps_order() {
        let mut q = EventQueue::new(2, 16);
        let a = put(&mut q, 1, b"aaaa").unwrap();
        let b = put(&mut q, 2, b"bb").unwrap();
        assert_eq!(put(&mut q, 3, b"c"), Err(AvsStatus::QueueFull));
        assert_eq!(q.next_queued(), Some(a));
        q.mark_in_flight(a);
        assert_eq!(q.next_queued(), Some(b));
        let mut out = [0u8; 3];
        assert_eq!(q.read_body(a, &mut out), (3, false));
        q.requeue(a);
        assert_eq!(q.next_queued(), Some(a), "a failed event keeps its place in front");
        q.mark_in_flight(a);
        let mut all = [0u8; 8];
        assert_eq!(q.read_body(a, &mut all), (4, true));
        assert_eq!(&all[..4], b"aaaa");
        q.release(a);
        assert_eq!(q.len(), 1);
        assert_eq!(put(&mut q, 4, &[0u8; 17]), Err(AvsStatus::TooLarge));
    }

    #[test]
    fn context_and_token_are_written_again_each_time_the_event_is_sent() {
        let mut q = EventQueue::new(1, 256);
        let mut scope = [0u8; 64];
        let n = crate::protocol::message::write_json_string(&mut scope, crate::interfaces::BEARER_PLACEHOLDER.as_bytes()).unwrap();
        assert_eq!(&scope[1..n - 1], BEARER_MARK, "the writers' escape of the placeholder is what the queue looks for");
        let slot = q
            .push_body(1, "T.E", Owner::Host, |out| {
                let body = [&b"{\"event\":{\"token\":"[..], &scope[..n], b"}}"].concat();
                out[..body.len()].copy_from_slice(&body);
                Ok((body.len(), Some(1)))
            })
            .unwrap();
        let body = |q: &mut EventQueue| {
            let mut out = [0u8; 256];
            let (n, _) = q.read_body(slot, &mut out);
            String::from_utf8(out[..n].to_vec()).unwrap()
        };
        let mut scratch = [0u8; 64];
        q.prepare(slot, &mut scratch, |out| { out[..3].copy_from_slice(b"1,2"); Some(3) }, "old").unwrap();
        q.mark_in_flight(slot);
        assert_eq!(body(&mut q), r#"{"context":[1,2],"event":{"token":"old"}}"#);
        q.requeue(slot);
        // A retry after the token changed (and the state): both are what they are now.
        q.prepare(slot, &mut scratch, |out| { out[..1].copy_from_slice(b"3"); Some(1) }, "n\"ew\\").unwrap();
        q.mark_in_flight(slot);
        assert_eq!(body(&mut q), r#"{"context":[3],"event":{"token":"n\"ew\\"}}"#);
    }

    #[test]
    fn library_events_have_slots_of_their_own() {
        let mut q = EventQueue::new(1, 16);
        put(&mut q, 1, b"host").unwrap();
        assert_eq!(put(&mut q, 2, b"more"), Err(AvsStatus::QueueFull));
        for _ in 0..INTERNAL_SLOTS {
            q.push(0, "S.F", Owner::Library, |out| {
                out[..2].copy_from_slice(b"ok");
                Ok(2)
            })
            .unwrap();
        }
        assert_eq!(q.len(), 1 + INTERNAL_SLOTS);
        assert!(q.held().count() == 1 + INTERNAL_SLOTS);
    }

    #[test]
    fn exceptions_never_take_host_slots_nor_crowd_out_playback_reports() {
        let mut q = EventQueue::new(2, 16);
        let exception = |q: &mut EventQueue| q.push(0, "System.ExceptionEncountered", Owner::Exception, |_| Ok(0));
        for _ in 0..EXCEPTION_SLOTS + INTERNAL_SLOTS - KEPT_FOR_PLAYBACK {
            exception(&mut q).unwrap();
        }
        assert_eq!(exception(&mut q), Err(AvsStatus::QueueFull), "no more exceptions held at once");
        // The host's slots are all still free, and so are the library's other slots.
        put(&mut q, 1, b"a").unwrap();
        put(&mut q, 2, b"b").unwrap();
        for _ in 0..KEPT_FOR_PLAYBACK {
            q.push(0, "SpeechSynthesizer.SpeechFinished", Owner::Library, |_| Ok(0)).unwrap();
        }
    }
}
