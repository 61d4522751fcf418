//! Colours and emphasis. Only the 16 named ANSI colours are used; with `NO_COLOR` every style
//! is colourless and state is carried by bold/reverse and text markers instead.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub no_color: bool,
    pub selected: Style,
    pub namespace: Style,
    pub group: Style,
    pub snapshot: Style,
    pub dim: Style,
    pub label: Style,
    pub warn: Style,
    pub error: Style,
    pub border: Style,
    pub focus_border: Style,
    pub title: Style,
    pub key: Style,
    /// Items marked as move sources (also shown with a `*`).
    pub marked: Style,
    /// Names that match the search.
    pub hit: Style,
}

impl Theme {
    /// `NO_COLOR` set to anything non-empty disables colour (https://no-color.org).
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self::new(no_color)
    }

    pub fn new(no_color: bool) -> Self {
        if no_color {
            Self::monochrome()
        } else {
            Self::colour()
        }
    }

    fn colour() -> Self {
        let plain = Style::new();
        Self {
            no_color: false,
            // Reverse as well as colour: readable on any palette, and the same cue as NO_COLOR.
            selected: plain
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            namespace: plain.fg(Color::Blue).add_modifier(Modifier::BOLD),
            group: plain,
            snapshot: plain,
            dim: plain.fg(Color::DarkGray),
            label: plain.fg(Color::Cyan),
            warn: plain.fg(Color::Yellow),
            error: plain.fg(Color::Red).add_modifier(Modifier::BOLD),
            border: plain.fg(Color::DarkGray),
            focus_border: plain.fg(Color::Cyan),
            title: plain.add_modifier(Modifier::BOLD),
            key: plain.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            marked: plain.fg(Color::Magenta).add_modifier(Modifier::BOLD),
            hit: plain
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::UNDERLINED),
        }
    }

    fn monochrome() -> Self {
        let plain = Style::new();
        let bold = plain.add_modifier(Modifier::BOLD);
        Self {
            no_color: true,
            selected: plain.add_modifier(Modifier::REVERSED | Modifier::BOLD),
            namespace: bold,
            group: plain,
            snapshot: plain,
            dim: plain,
            label: plain,
            warn: bold,
            error: bold,
            border: plain,
            focus_border: bold,
            title: bold,
            key: bold,
            marked: plain.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            hit: plain.add_modifier(Modifier::UNDERLINED | Modifier::ITALIC),
        }
    }
}
