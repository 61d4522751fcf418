//! The modal dialogs drawn over the panes. Each owns its state, its key handling and its
//! drawing; only one is open at a time (help goes on top of it).

pub mod confirm;
pub mod help;
pub mod notes;
pub mod picker;
pub mod preview;
pub mod resume;

use ratatui::layout::Rect;

use crate::ui::keys::context::Context;

use notes::NotesState;
use picker::PickerState;
use preview::PreviewState;
use resume::ResumeState;

/// The open popup; its variant is the context its keys are looked up in.
#[derive(Debug, Clone)]
pub enum Popup {
    Picker(PickerState),
    Preview(PreviewState),
    ConfirmQuit,
    Resume(ResumeState),
    Notes(NotesState),
}

impl Popup {
    pub fn context(&self) -> Context {
        match self {
            Popup::Picker(_) => Context::Picker,
            Popup::Preview(_) => Context::Preview,
            Popup::ConfirmQuit => Context::Confirm,
            Popup::Resume(_) => Context::Resume,
            Popup::Notes(_) => Context::Notes,
        }
    }
}

/// A centred popup of at most `w`×`h`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
