//! `Speaker` (v1): the device's own volume. `SetVolume`, `AdjustVolume` and `SetMute` go to the
//! host's speaker, which reports what it applied; that becomes `VolumeChanged`/`MuteChanged`,
//! and so do the host's own changes (buttons, a knob). Every change gets its event, in order:
//! they wait here, in a backlog of `BACKLOG`, until the event queue has a slot for them, so a
//! burst of directives cannot fill the queue nor lose an event.

use super::volume::{Volume, VolumeState};
use super::{Cx, Rejection};
use crate::host::log;
use crate::protocol::interfaces::speaker::{self as wire, SpeakerDirective};
use crate::protocol::jsonw::{context_entry, JsonWriter};
use crate::status::LogLevel;

/// Changes whose event waits for a queue slot. Beyond this many the newest waiting event is
/// updated to carry the latest state instead (the only coalescing: the final state is always
/// reported, and AVS's Speaker pages ask for nothing more than the state after each change).
pub(crate) const BACKLOG: usize = 64;
/// The context entry at its longest.
pub(crate) const CONTEXT_BYTES: usize = 96;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Change {
    Volume,
    Mute,
}

/// The interface's state.
pub struct Speaker {
    enabled: bool,
    backlog: heapless::Deque<(Change, VolumeState), BACKLOG>,
}

impl Default for Speaker {
    fn default() -> Self {
        Speaker { enabled: false, backlog: heapless::Deque::new() }
    }
}

impl Speaker {
    /// Turns the interface on (the host registered its speaker).
    pub fn enable(&mut self) {
        self.enabled = true;
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// `SetVolume`, `AdjustVolume`, `SetMute`: applied by the host, reported by an event.
    pub fn on_directive(&mut self, name: &str, payload: &[u8], volume: &mut Volume, cx: &mut Cx) -> Result<(), Rejection> {
        let directive = wire::parse(name, payload)?;
        let (change, requested) = match directive {
            SpeakerDirective::SetVolume { volume: v } => (Change::Volume, VolumeState { volume: v, ..volume.state }),
            SpeakerDirective::AdjustVolume { delta } => (Change::Volume, VolumeState { volume: volume.adjusted(i64::from(delta)), ..volume.state }),
            SpeakerDirective::SetMute { mute } => (Change::Mute, VolumeState { muted: mute, ..volume.state }),
        };
        match volume.apply(requested) {
            Ok(applied) => {
                self.changed(change, applied, cx);
                Ok(())
            }
            Err(e) => {
                log!(cx.host, cx.log_level, LogLevel::Warn, "Speaker.{name}: the host's speaker refused ({})", e.text());
                Err(Rejection::Failed("the device could not apply the volume change"))
            }
        }
    }

    /// The host changed the volume itself (already applied): `VolumeChanged`.
    pub fn volume_set_by_host(&mut self, state: VolumeState, cx: &mut Cx) {
        self.changed(Change::Volume, state, cx);
    }

    /// The host muted or unmuted itself: `MuteChanged`.
    pub fn mute_set_by_host(&mut self, state: VolumeState, cx: &mut Cx) {
        self.changed(Change::Mute, state, cx);
    }

    fn changed(&mut self, change: Change, state: VolumeState, cx: &mut Cx) {
        if !self.enabled {
            return;
        }
        if let Err(entry) = self.backlog.push_back((change, state)) {
            let newest = self.backlog.back_mut().expect("a full backlog has a newest entry");
            log!(cx.host, cx.log_level, LogLevel::Warn, "{BACKLOG} volume events waiting; the newest now carries the latest state");
            *newest = entry;
        }
        self.flush(cx);
    }

    /// Hands waiting events to the queue, oldest first, while it takes them.
    pub fn flush(&mut self, cx: &mut Cx) {
        while let Some(&(change, state)) = self.backlog.front() {
            let mut payload = [0u8; 48];
            let mut w = JsonWriter::new(&mut payload);
            wire::write_volume_state(&mut w, state.volume, state.muted);
            let Ok(n) = w.finish() else { return };
            let name = match change {
                Change::Volume => wire::VOLUME_CHANGED,
                Change::Mute => wire::MUTE_CHANGED,
            };
            let sent = cx.events.send(wire::NAMESPACE, name, &payload[..n], false);
            if !super::handed_over(sent, name, cx) {
                return;
            }
            self.backlog.pop_front();
        }
    }

    /// `Speaker.VolumeState`.
    pub fn write_context(&self, volume: &Volume, w: &mut JsonWriter) {
        if self.enabled {
            context_entry(w, wire::NAMESPACE, wire::VOLUME_STATE, |w| wire::write_volume_state(w, volume.state.volume, volume.state.muted));
        }
    }
}
