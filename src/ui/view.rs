//! Screen layout: title, tree + details, status pane, footer; popups on top.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::App;
use super::format;
use super::keys::action::Action;
use super::keys::context::Context;
use super::keys::help;
use super::panes::{details, status, tree};
use super::popups::{self, Popup, confirm, notes, picker, preview, resume};
use super::theme::Theme;

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
    let tree_title = tree_title(app);
    let search_line = app
        .search
        .summary(&app.filter.text)
        .map(|s| format!(" /{}: {s} ", app.filter.text));
    app.areas = crate::ui::app::ScreenAreas {
        tree: tree_area,
        details: details_area,
        status: status_area,
        picker_list: Rect::default(),
    };
    let theme = app.theme;
    let (items, state) = app.tree_parts();
    tree::render(
        frame,
        tree_area,
        items,
        state,
        &theme,
        tree_title,
        search_line,
    );
    // Now the widget's scroll offset is known: read the manifests of what is on screen.
    app.request_visible_facts();
    let selection = app.selection();
    details::render(
        frame,
        details_area,
        &app.model,
        &selection,
        &mut app.details_view,
        &app.theme,
    );
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
        Some(Popup::Picker(p)) => app.areas.picker_list = picker::render(frame, area, p, &theme),
        Some(Popup::Preview(p)) => preview::render(frame, area, p, &theme),
        Some(Popup::ConfirmQuit) => confirm::render(frame, area, &app.keymap, &app.jobs, &theme),
        Some(Popup::ConfirmCancel(_)) => {
            confirm::render_cancel(frame, area, &app.keymap, &app.jobs, &theme)
        }
        Some(Popup::Resume(p)) => resume::render(frame, area, p, &app.keymap, &theme),
        Some(Popup::Notes(p)) => notes::render(frame, area, p, &app.keymap, &theme),
        None => {}
    }
    if let Some(help) = app.help {
        popups::help::render(frame, area, &app.keymap, &app.theme, help);
    }
}

/// ` Tree  sort: name  12/2000 `: the group order and the cursor's row among the visible.
fn tree_title(app: &mut App) -> String {
    let rows = app.visible_paths();
    let pos = app.selected_index(&rows).map_or(0, |i| i + 1);
    format!(" Tree  sort: {}  {pos}/{} ", app.sort.label(), rows.len())
}

fn title_line(app: &App) -> Line<'static> {
    let t = &app.theme;
    let backend = match &app.ctx.ds.backend {
        crate::tree::BackendConfig::Filesystem => "filesystem".to_string(),
        crate::tree::BackendConfig::S3 { bucket, .. } => format!("S3 bucket {bucket}"),
    };
    let mut spans = vec![
        Span::styled(" pbs-mover ", t.title),
        Span::styled(format!(" {} ", app.ctx.ds.name), t.namespace),
        Span::styled(format!(" {backend} "), t.dim),
    ];
    if let Some(m) = &app.ctx.ds.maintenance {
        spans.push(Span::styled(format!(" maintenance: {m} "), t.warn));
    }
    if app.busy() {
        spans.push(Span::styled(" scanning… ", t.dim));
    }
    let active = app.jobs.active();
    if active > 0 {
        let moves = format::count(active, "move", "moves");
        spans.push(Span::styled(format!(" {moves} active "), t.warn));
    }
    let marked = app.marks.groups.len() + usize::from(app.marks.ns.is_some());
    if marked > 0 {
        spans.push(Span::styled(format!(" {marked} marked "), t.marked));
    }
    // Last: the first thing to give way on a narrow terminal.
    let pbs = app.ctx.pbs();
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
    // Popups whose keys mean something else than their context's help says.
    let own: Option<&[(Action, &str)]> = match &app.popup {
        Some(Popup::ConfirmCancel(_)) => {
            Some(&[(Action::Yes, "cancel the move"), (Action::No, "let it run")])
        }
        Some(Popup::Preview(p)) if p.nothing_movable() => {
            Some(&[(Action::No, "close (nothing to move)")])
        }
        _ => None,
    };
    let hints = match own {
        Some(list) => own_hints(app, ctx, list),
        None => help::hints(&app.keymap, ctx, t, area.width as usize),
    };
    frame.render_widget(Paragraph::new(hints), area);
}

fn own_hints(app: &App, ctx: Context, list: &[(Action, &str)]) -> Line<'static> {
    let t = &app.theme;
    let mut spans = Vec::new();
    for (action, label) in list {
        if let Some(key) = app.keymap.first_key(ctx, *action) {
            spans.push(Span::styled(key.to_string(), t.key));
            spans.push(Span::styled(format!(" {label}  "), t.dim));
        }
    }
    Line::from(spans)
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
