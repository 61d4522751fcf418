//! The target picker: a filterable flat list of existing namespaces, plus (for namespace
//! moves) the new name and the move options. Its result is a [`MoveSpec`] for the preview.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::ops::engine::request::MoveNsRequest;
use crate::tree::Namespace;

use super::centered;
use crate::ui::keys::action::Action;
use crate::ui::tasks::moves::{MoveSource, MoveSpec};
use crate::ui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    List,
    Name,
    Merge,
    KeepSource,
    MaxDepth,
}

#[derive(Debug, Clone)]
pub struct PickerState {
    pub source: MoveSource,
    /// Every namespace of the datastore; `None` while the listing runs.
    pub all: Option<Vec<Namespace>>,
    pub filter: String,
    /// Index into [`PickerState::candidates`].
    pub cursor: usize,
    pub field: Field,
    /// New last component of a moved namespace.
    pub name: String,
    pub merge: bool,
    pub keep_source: bool,
    /// `None` = the whole subtree.
    pub max_depth: Option<usize>,
    /// Why Enter did not go on (invalid name, nothing picked).
    pub error: Option<String>,
}

/// What a key did in the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickerOutcome {
    /// The picker stays open; redraw when `true`.
    Stay(bool),
    /// Closed: nothing is moved.
    Cancel,
    /// Go on to the dry run of this move.
    Preview(MoveSpec),
}

impl PickerState {
    pub fn new(source: MoveSource) -> Self {
        let name = match &source {
            MoveSource::Namespace(ns) => ns.name().unwrap_or_default().to_string(),
            MoveSource::Groups(_) => String::new(),
        };
        Self {
            source,
            all: None,
            filter: String::new(),
            cursor: 0,
            field: Field::List,
            name,
            merge: true,
            keep_source: false,
            max_depth: None,
            error: None,
        }
    }

    /// The picker's answer to an action of its context.
    pub fn handle(&mut self, action: Action) -> PickerOutcome {
        let changed = match action {
            Action::Up => self.move_cursor(-1),
            Action::Down => self.move_cursor(1),
            Action::PageUp => self.move_cursor(-10),
            Action::PageDown => self.move_cursor(10),
            Action::NextField | Action::PrevField => {
                self.cycle_field(action == Action::NextField);
                true
            }
            Action::Toggle => self.toggle(),
            Action::Increase => self.step_depth(true),
            Action::Decrease => self.step_depth(false),
            Action::Backspace => self.backspace(),
            Action::Close => return PickerOutcome::Cancel,
            Action::Accept => match self.spec() {
                Ok(spec) => return PickerOutcome::Preview(spec),
                Err(e) => {
                    self.error = Some(e);
                    true
                }
            },
            _ => false,
        };
        PickerOutcome::Stay(changed)
    }

    /// Every namespace of the datastore arrived (or could not be listed).
    pub fn on_namespaces(&mut self, result: Result<Vec<Namespace>, String>) {
        match result {
            Ok(mut all) => {
                // By components, naturally: each namespace right above its children, as in
                // the tree.
                all.sort_by(crate::tree::natural::ns_cmp);
                self.all = Some(all);
                self.cursor = self.first_valid();
            }
            Err(e) => {
                self.all = Some(Vec::new());
                self.error = Some(format!("cannot list namespaces: {e}"));
            }
        }
    }

    fn is_ns_move(&self) -> bool {
        matches!(self.source, MoveSource::Namespace(_))
    }

    /// Fields Tab cycles through, in order.
    pub fn fields(&self) -> &'static [Field] {
        if self.is_ns_move() {
            &[
                Field::List,
                Field::Name,
                Field::Merge,
                Field::KeepSource,
                Field::MaxDepth,
            ]
        } else {
            &[Field::List, Field::Merge]
        }
    }

    pub fn cycle_field(&mut self, forward: bool) {
        let fields = self.fields();
        let i = fields.iter().position(|f| *f == self.field).unwrap_or(0);
        let n = fields.len();
        self.field = fields[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }];
    }

    /// Namespaces that may be picked: for a namespace move, never the source or anything
    /// below it (PBS refuses moving a namespace into itself).
    pub fn candidates(&self) -> Vec<&Namespace> {
        // The search's matching: every whitespace-separated term occurs in the path.
        let query = crate::tree::search::Query::parse(&self.filter);
        let Some(all) = &self.all else {
            return Vec::new();
        };
        all.iter()
            .filter(|ns| match &self.source {
                MoveSource::Namespace(src) => src.contains(ns).is_none(),
                // Groups all from one namespace cannot move into it: not worth a row.
                MoveSource::Groups(groups) => groups.iter().any(|(g_ns, _)| g_ns != *ns),
            })
            .filter(|ns| query.is_empty() || query.matches_text(&ns.human()))
            .collect()
    }

    /// Where the cursor starts: never on a namespace move's current parent, where Enter
    /// could only be refused ("source and target namespace must be different").
    fn first_valid(&self) -> usize {
        let parent = match &self.source {
            MoveSource::Namespace(src) => src.parent(),
            MoveSource::Groups(_) => None,
        };
        self.candidates()
            .iter()
            .position(|ns| Some(*ns) != parent.as_ref())
            .unwrap_or(0)
    }

    pub fn picked(&self) -> Option<Namespace> {
        self.candidates().get(self.cursor).map(|ns| (*ns).clone())
    }

    /// The candidate on the first of `rows` list rows: the list scrolls so that the cursor
    /// sits on the last row when it is below the fold.
    pub fn first_row(&self, rows: usize) -> usize {
        (self.cursor + 1).saturating_sub(rows)
    }

    /// The candidate shown on list row `row` of `rows` (as last drawn), if any.
    pub fn row_at(&self, row: usize, rows: usize) -> Option<usize> {
        let i = self.first_row(rows) + row;
        (row < rows && i < self.candidates().len()).then_some(i)
    }

    pub fn move_cursor(&mut self, delta: isize) -> bool {
        let n = self.candidates().len();
        let new = self
            .cursor
            .saturating_add_signed(delta)
            .min(n.saturating_sub(1));
        let changed = new != self.cursor;
        self.cursor = new;
        changed
    }

    /// A typed character: goes into the filter or the name, whichever has focus.
    pub fn type_char(&mut self, c: char) -> bool {
        self.error = None;
        match self.field {
            Field::List => {
                self.filter.push(c);
                self.cursor = self.best_match();
            }
            Field::Name => self.name.push(c),
            _ => return false,
        }
        true
    }

    pub fn backspace(&mut self) -> bool {
        let done = match self.field {
            Field::List => self.filter.pop().is_some(),
            Field::Name => self.name.pop().is_some(),
            _ => false,
        };
        if done {
            self.cursor = self.best_match();
            self.error = None;
        }
        done
    }

    /// The row to put the cursor on after the filter changed: the namespace whose path or
    /// name is exactly the filter (typing `b` picks `b`, not `a/sub`), else the first.
    fn best_match(&self) -> usize {
        let f = self.filter.to_lowercase();
        let cands = self.candidates();
        let exact = |ns: &&Namespace| ns.human().to_lowercase() == f;
        let named = |ns: &&Namespace| ns.name().is_some_and(|n| n.to_lowercase() == f);
        cands
            .iter()
            .position(exact)
            .or_else(|| cands.iter().position(named))
            .unwrap_or(0)
    }

    /// Space on an option field.
    pub fn toggle(&mut self) -> bool {
        match self.field {
            Field::Merge => self.merge = !self.merge,
            Field::KeepSource => self.keep_source = !self.keep_source,
            Field::MaxDepth => self.max_depth = self.max_depth.map_or(Some(0), |_| None),
            _ => return false,
        }
        true
    }

    /// Left/Right on the depth field: 0, 1, … 7, all.
    pub fn step_depth(&mut self, up: bool) -> bool {
        if self.field != Field::MaxDepth {
            return false;
        }
        let max = crate::tree::names::MAX_NAMESPACE_DEPTH;
        self.max_depth = match (self.max_depth, up) {
            (None, true) => return false,
            (None, false) => Some(max - 1),
            (Some(d), true) if d + 1 >= max => None,
            (Some(d), true) => Some(d + 1),
            (Some(0), false) => return false,
            (Some(d), false) => Some(d - 1),
        };
        true
    }

    /// The new path of a moved namespace: picked parent + name.
    fn ns_target(&self, parent: &Namespace) -> Result<Namespace, String> {
        if self.name.is_empty() {
            return Err("the new name is empty".into());
        }
        parent.child(&self.name).map_err(|e| e.to_string())
    }

    /// The target shown under the list ("→ archive/db").
    pub fn target_label(&self) -> String {
        let Some(parent) = self.picked() else {
            return "no namespace picked".into();
        };
        if self.is_ns_move() {
            self.ns_target(&parent)
                .map_or_else(|e| format!("invalid: {e}"), |t| t.human())
        } else {
            parent.human()
        }
    }

    /// The move to preview, or why not.
    pub fn spec(&self) -> Result<MoveSpec, String> {
        let picked = self.picked().ok_or("no namespace matches the filter")?;
        match &self.source {
            MoveSource::Groups(groups) => Ok(MoveSpec::Groups {
                groups: groups.clone(),
                target: picked,
                merge: self.merge,
            }),
            MoveSource::Namespace(ns) => Ok(MoveSpec::Namespace(MoveNsRequest {
                ns: ns.clone(),
                target_ns: self.ns_target(&picked)?,
                max_depth: self.max_depth,
                delete_source: !self.keep_source,
                merge: self.merge,
            })),
        }
    }
}

fn check(on: bool) -> &'static str {
    if on { "[x]" } else { "[ ]" }
}

fn field_line(p: &PickerState, f: Field, label: String, t: &Theme) -> Line<'static> {
    // A marker, not only a style, shows the focused field (NO_COLOR).
    let (mark, style) = if p.field == f {
        ("> ", t.selected)
    } else {
        ("  ", t.group)
    };
    Line::from(vec![Span::styled(mark, t.key), Span::styled(label, style)])
}

fn option_lines(p: &PickerState, t: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if p.is_ns_move() {
        let cursor = if p.field == Field::Name { "_" } else { "" };
        out.push(field_line(
            p,
            Field::Name,
            format!("new name: {}{cursor}", p.name),
            t,
        ));
    }
    let merge = format!("{} merge into existing groups", check(p.merge));
    out.push(field_line(p, Field::Merge, merge, t));
    if p.is_ns_move() {
        let keep = format!(
            "{} keep the emptied source namespaces",
            check(p.keep_source)
        );
        out.push(field_line(p, Field::KeepSource, keep, t));
        let depth = p
            .max_depth
            .map_or("all levels".to_string(), |d| d.to_string());
        out.push(field_line(
            p,
            Field::MaxDepth,
            format!("max depth: {depth}"),
            t,
        ));
    }
    out
}

/// Draws the picker; returns where its list rows are (for clicks).
pub fn render(frame: &mut Frame, area: Rect, p: &PickerState, t: &Theme) -> Rect {
    let popup = centered(area, 72, 20);
    frame.render_widget(Clear, popup);
    let verb = if p.is_ns_move() {
        "new parent of"
    } else {
        "target for"
    };
    let title = format!(" Pick the {verb} {} ", p.source.describe());
    let block = Block::bordered()
        .border_style(t.focus_border)
        .title(Span::styled(title, t.title));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let options = option_lines(p, t);
    let [filter_row, list, opts, target, err] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(2),
        Constraint::Length(options.len() as u16),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let cursor = if p.field == Field::List { "_" } else { "" };
    let filter = format!("filter: {}{cursor}", p.filter);
    frame.render_widget(
        Paragraph::new(field_line(p, Field::List, filter, t)),
        filter_row,
    );
    render_list(frame, list, p, t);
    frame.render_widget(Paragraph::new(options), opts);
    let target_line = Line::from(vec![
        Span::styled("  target: ", t.label),
        Span::styled(p.target_label(), t.namespace),
    ]);
    frame.render_widget(Paragraph::new(target_line), target);
    if let Some(e) = &p.error {
        frame.render_widget(Paragraph::new(Span::styled(format!("  {e}"), t.error)), err);
    }
    list
}

fn render_list(frame: &mut Frame, area: Rect, p: &PickerState, t: &Theme) {
    if p.all.is_none() {
        frame.render_widget(
            Paragraph::new(Span::styled("  listing namespaces…", t.dim)),
            area,
        );
        return;
    }
    let cands = p.candidates();
    if cands.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled("  no namespace matches", t.dim)),
            area,
        );
        return;
    }
    let rows = area.height as usize;
    let first = p.first_row(rows);
    let lines: Vec<Line> = cands
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, ns)| {
            let (mark, style) = if i == p.cursor {
                ("  > ", t.selected)
            } else {
                ("    ", t.namespace)
            };
            Line::from(vec![
                Span::styled(mark, t.key),
                Span::styled(ns.human(), style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> Namespace {
        Namespace::parse(s).unwrap()
    }

    fn picker(source: MoveSource) -> PickerState {
        let mut p = PickerState::new(source);
        p.all = Some(["", "a", "a/b", "a/b/c", "ab", "x"].map(ns).to_vec());
        p
    }

    #[test]
    fn namespace_moves_hide_the_source_subtree() {
        let p = picker(MoveSource::Namespace(ns("a/b")));
        let names: Vec<String> = p.candidates().iter().map(|n| n.human()).collect();
        assert_eq!(names, ["/", "a", "ab", "x"]);
        assert_eq!(p.name, "b");
    }

    #[test]
    fn namespace_move_starts_on_a_target_other_than_the_parent() {
        let mut p = PickerState::new(MoveSource::Namespace(ns("a/b")));
        p.on_namespaces(Ok(["", "a", "a/b", "x"].map(ns).to_vec()));
        assert_eq!(p.picked(), Some(ns("")), "the parent 'a' is skipped");
        let mut p = PickerState::new(MoveSource::Namespace(ns("x")));
        p.on_namespaces(Ok(["", "a", "x"].map(ns).to_vec()));
        assert_eq!(p.picked(), Some(ns("a")), "the parent '/' is skipped");
    }

    #[test]
    fn filter_name_and_options_make_the_spec() {
        let mut p = picker(MoveSource::Namespace(ns("a/b")));
        p.type_char('x');
        assert_eq!(p.picked(), Some(ns("x")));
        p.cycle_field(true);
        assert_eq!(p.field, Field::Name);
        p.backspace();
        p.type_char('z');
        p.cycle_field(true);
        p.toggle();
        p.cycle_field(true);
        p.toggle();
        p.cycle_field(true);
        p.step_depth(false);
        assert_eq!(p.max_depth, Some(6));
        let MoveSpec::Namespace(r) = p.spec().unwrap() else {
            panic!()
        };
        assert_eq!(r.target_ns, ns("x/z"));
        assert!(!r.merge && !r.delete_source);
        p.name = "bad name".into();
        assert!(p.spec().unwrap_err().contains("bad name"));
    }
}
