//! Screen layout: title, tree + details, status pane, footer; popups on top.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{Action, App};
use super::keymap::Context;
use super::theme::Theme;
use super::workflow::Popup;
use super::{details, help, picker, preview, resume_prompt, status, tree_view};

/// Below this the layout cannot show a usable tree and details side by side.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// Draws the whole screen. Takes `&mut App` only because the tree widget keeps its scroll
/// offset in its state and the page size for PgUp/PgDn is learnt here.
pub fn draw(frame: &mut Frame, app: &mut App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area, &app.theme);
        return;
    }
    let status_rows = match (app.status_view.focused, area.height >= 32) {
        // Focused, the log takes half the screen: lock messages are long.
        (true, _) => area.height / 2,
        (false, true) => 8,
        (false, false) => 5,
    };
    let [title, main, status_area, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(status_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    let [tree_area, details_area] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(main);

    frame.render_widget(Paragraph::new(title_line(app)), title);
    app.page_rows = tree_area.height.saturating_sub(2) as usize;
    let tree_title = match app.filter.text.as_str() {
        "" => " Tree ".to_string(),
        f => format!(" Tree (filter: {f}) "),
    };
    let theme = app.theme;
    let (items, state) = app.tree_parts();
    tree_view::render(frame, tree_area, items, state, &theme, tree_title);
    details::render(frame, details_area, app);
    status::render(
        frame,
        status_area,
        &app.status,
        &mut app.status_view,
        &app.jobs,
        &app.theme,
    );
    render_footer(frame, footer, app);
    let theme = app.theme;
    match &mut app.popup {
        Some(Popup::Picker(p)) => picker::render(frame, area, p, &theme),
        Some(Popup::Preview(p)) => preview::render(frame, area, p, &theme),
        Some(Popup::ConfirmQuit) => confirm_quit(frame, area, app),
        Some(Popup::Resume(p)) => resume_prompt::render(frame, area, p, &app.keymap, &theme),
        None => {}
    }
    if let Some(scroll) = app.help {
        help::render(frame, area, &app.keymap, &app.theme, scroll);
    }
}

fn title_line(app: &App) -> Line<'static> {
    let t = &app.theme;
    let backend = match &app.ds.backend {
        crate::tree::BackendConfig::Filesystem => "filesystem".to_string(),
        crate::tree::BackendConfig::S3 { bucket, .. } => format!("S3 bucket {bucket}"),
    };
    let mut spans = vec![
        Span::styled(" pbs-mover ", t.title),
        Span::styled(format!(" {} ", app.ds.name), t.namespace),
        Span::styled(format!(" {backend} "), t.dim),
    ];
    if let Some(m) = &app.ds.maintenance {
        spans.push(Span::styled(format!(" maintenance: {m} "), t.warn));
    }
    if app.busy() {
        spans.push(Span::styled(" scanning… ", t.dim));
    }
    let active = app.jobs.active();
    if active > 0 {
        let moves = super::format::count(active, "move", "moves");
        spans.push(Span::styled(format!(" {moves} active "), t.warn));
    }
    let marked = app.marks.groups.len() + usize::from(app.marks.ns.is_some());
    if marked > 0 {
        spans.push(Span::styled(format!(" {marked} marked "), t.marked));
    }
    // Last: the first thing to give way on a narrow terminal.
    let pbs = &app.ctx.pbs;
    spans.push(Span::styled(
        format!(" {pbs} · {} locks ", pbs.lock_scheme()),
        t.dim,
    ));
    Line::from(spans)
}

fn render_footer(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let ctx = app.context();
    if ctx == Context::Filter {
        let prompt = format!("/{}", app.filter.text);
        let width = prompt.chars().count() as u16;
        let rest = (area.width as usize).saturating_sub(prompt.chars().count() + 3);
        let mut line = vec![Span::styled(prompt, t.title), Span::raw("   ")];
        line.extend(help::hints(&app.keymap, ctx, t, rest).spans);
        frame.render_widget(Paragraph::new(Line::from(line)), area);
        // The cursor shows where typing goes.
        frame.set_cursor_position(Position::new(area.x + width.min(area.width - 1), area.y));
        return;
    }
    let hints = help::hints(&app.keymap, ctx, t, area.width as usize);
    frame.render_widget(Paragraph::new(hints), area);
}

/// "Moves are running — quit?" with the moves listed.
fn confirm_quit(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let key = |a| {
        app.keymap
            .first_key(Context::Confirm, a)
            .map_or("?".to_string(), |k| k.to_string())
    };
    let mut lines = vec![Line::styled("Moves are still running or queued:", t.title)];
    for job in app.active_jobs() {
        let state = format!("{:?}", job.state).to_lowercase();
        let text = format!("  #{} {} ({state})", job.id, job.spec.describe());
        lines.push(Line::from(super::format::truncate(&text, 60)));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled(key(Action::Yes), t.key),
        Span::raw(": cancel them and quit (waits for the current snapshot)"),
    ]));
    lines.push(Line::from(vec![
        Span::styled(key(Action::No), t.key),
        Span::raw(": stay"),
    ]));
    let force = app.keymap.first_key(Context::Global, Action::ForceQuit);
    if let Some(k) = force {
        lines.push(Line::from(vec![
            Span::styled(k.to_string(), t.key),
            Span::raw(" again: quit NOW (resume finishes a cut move)"),
        ]));
    }
    let popup = picker::centered(area, 66, lines.len() as u16 + 2);
    let block = ratatui::widgets::Block::bordered()
        .border_style(t.focus_border)
        .title(Span::styled(" Quit? ", t.title));
    frame.render_widget(ratatui::widgets::Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// One clear line instead of a broken layout; the longest wording that fits is used.
fn too_small(frame: &mut Frame, area: Rect, theme: &Theme) {
    let (w, h) = (area.width, area.height);
    let candidates = [
        format!("Terminal too small: {w}x{h}, need at least {MIN_WIDTH}x{MIN_HEIGHT}. q quits."),
        format!("Too small: {w}x{h}, need {MIN_WIDTH}x{MIN_HEIGHT}. q quits"),
        format!("too small, need {MIN_WIDTH}x{MIN_HEIGHT}"),
        format!("{MIN_WIDTH}x{MIN_HEIGHT}"),
    ];
    let text = candidates
        .iter()
        .find(|c| c.chars().count() <= w as usize)
        .map_or("", String::as_str);
    let row = Rect {
        y: area.y + h / 2,
        height: 1.min(h),
        ..area
    };
    let p = Paragraph::new(Span::styled(text.to_string(), theme.warn)).centered();
    frame.render_widget(p, row);
}
