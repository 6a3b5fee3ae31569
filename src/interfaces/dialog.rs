//! The dialog the two speech interfaces share: its state (what the device's lights show) and the
//! current turn's dialogRequestId. SpeechRecognizer starts turns, SpeechSynthesizer answers
//! them; neither calls the other, both read and move this.

use crate::host::Host;
use crate::protocol::message::Directive;
use crate::status::{AvsStatus, DialogState};

/// Longest dialogRequestId kept (the library's own are 36-byte UUIDs).
pub(crate) const DIALOG_ID_MAX: usize = 36;

/// The shared dialog state.
pub struct Dialog {
    pub state: DialogState,
    /// dialogRequestId of the latest turn; directives carrying another id are dropped.
    pub dialog_id: heapless::String<DIALOG_ID_MAX>,
    /// A Speak answering the current turn arrived.
    pub turn_answered: bool,
}

impl Default for Dialog {
    fn default() -> Self {
        Dialog { state: DialogState::Idle, dialog_id: heapless::String::new(), turn_answered: false }
    }
}

impl Dialog {
    /// Moves the dialog state, telling the host (again, when a turn ends with a reason).
    pub fn set_state(&mut self, host: &mut dyn Host, state: DialogState, reason: AvsStatus) {
        if self.state != state || reason != AvsStatus::Ok {
            self.state = state;
            host.dialog_state(state, reason);
        }
    }

    /// Whether a directive belongs to the current dialog (or to none).
    pub fn accepts(&self, d: &Directive) -> bool {
        match d.header.dialog_request_id {
            Some(id) if !id.is_empty() => id == self.dialog_id.as_str(),
            _ => true,
        }
    }

    /// A new turn with this dialogRequestId.
    pub fn begin_turn(&mut self, dialog_id: &str) {
        self.dialog_id.clear();
        let _ = self.dialog_id.push_str(dialog_id);
        self.turn_answered = false;
    }
}
