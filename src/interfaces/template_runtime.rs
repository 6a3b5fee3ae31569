//! `TemplateRuntime`: display cards. `RenderTemplate` and `RenderPlayerInfo` are checked and
//! passed to the host's handler as the JSON part, borrowed, with their dialogRequestId.

use super::{Cx, Rejection};
use crate::protocol::interfaces::template_runtime::{self as wire, TemplateDirective};
use crate::status::AvsStatus;

/// What the host's handler gets.
pub struct Card<'a> {
    /// `RenderTemplate` or `RenderPlayerInfo`.
    pub name: &'a str,
    /// The directive's `payload` object.
    pub payload: &'a [u8],
    /// The whole directive JSON part.
    pub json: &'a [u8],
    /// The turn it answers ("" when none).
    pub dialog_request_id: &'a str,
}

/// The host's display (the C API implements it over `avs_template_handler`).
pub trait CardDisplay {
    fn render(&mut self, card: &Card) -> Result<(), AvsStatus>;
}

/// The interface's state: the host's display.
#[derive(Default)]
pub struct TemplateRuntime {
    display: Option<Box<dyn CardDisplay>>,
}

impl TemplateRuntime {
    pub fn enable(&mut self, display: Box<dyn CardDisplay>) {
        self.display = Some(display);
    }

    pub fn is_enabled(&self) -> bool {
        self.display.is_some()
    }

    pub fn on_directive(&mut self, card: &Card, _cx: &mut Cx) -> Result<(), Rejection> {
        match wire::parse(card.name, card.payload)? {
            TemplateDirective::RenderTemplate | TemplateDirective::RenderPlayerInfo => {}
        }
        let display = self.display.as_mut().ok_or(Rejection::Unsupported)?;
        display.render(card).map_err(|_| Rejection::Failed("the device could not show the card"))
    }
}
