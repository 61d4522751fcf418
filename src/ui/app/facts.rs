//! Manifest facts for the rows on screen, and the notes popup: reads go out as commands,
//! results come back as events into the model's facts cache.

use crate::ops::progress::CancelToken;
use crate::tree::{GroupId, Namespace};
use crate::ui::model::{LoadState, NodeKey, Selection, ns_of};
use crate::ui::panes::status::Level;
use crate::ui::popups::Popup;
use crate::ui::popups::notes::{NotesOutcome, NotesState};
use crate::ui::tasks::Command;
use crate::ui::tasks::manifests::{FactsRequest, FactsResult, NotesRequest, NotesResult};

use super::App;

/// The background read of the selected namespace's size.
#[derive(Debug)]
pub(super) struct NsSizeRead {
    ns: Namespace,
    seq: u64,
    cancel: CancelToken,
}

impl App {
    /// Asks for the manifests of every group on screen (or whose snapshots are) that has
    /// not been read yet. The view calls it after drawing the tree, when the widget's
    /// scroll offset is known.
    pub fn request_visible_facts(&mut self) {
        let start = self.tree_state.get_offset();
        let rows = self.visible_paths();
        for path in rows.iter().skip(start).take(self.page_rows.max(1)) {
            let Some((ns, group)) = group_of(path) else {
                continue;
            };
            // The rest of a first listing is read first: the rows get their facts with the
            // frame that shows the whole listing.
            if self.model.ns(&ns).is_some_and(|e| e.is_partial()) {
                continue;
            }
            if self.model.facts.start(&ns, &group) {
                self.commands
                    .push(Command::ReadFacts(FactsRequest { ns, group }));
            }
        }
        // After the rows on screen: those are not read twice.
        self.request_ns_size();
    }

    pub(super) fn on_facts(&mut self, r: FactsResult) -> bool {
        self.learn_facts(&r);
        let stored = self.model.facts.finish(&r.ns, &r.group, r.result);
        self.items_dirty |= stored;
        stored
    }

    /// Reads the manifests of the selected namespace's groups that nobody read yet, so its
    /// size is known without scrolling through them; a read for a namespace the cursor
    /// left is cancelled.
    fn request_ns_size(&mut self) {
        let wanted = match self.selection() {
            Selection::Ns(ns) => Some(ns),
            _ => None,
        };
        if self.ns_size.as_ref().map(|r| &r.ns) == wanted.as_ref() {
            return;
        }
        if let Some(old) = self.ns_size.take() {
            old.cancel.cancel();
        }
        let Some(ns) = wanted else { return };
        let Some(entry) = self.model.ns(&ns) else {
            return;
        };
        // A namespace still being listed is asked for once its listing is complete.
        if entry.state != LoadState::Loaded {
            return;
        }
        let groups: Vec<GroupId> = entry
            .groups
            .iter()
            .map(|g| g.info.group.clone())
            .filter(|g| self.model.facts.state(&ns, g).is_none())
            .collect();
        if groups.is_empty() {
            return;
        }
        self.ns_size_seq += 1;
        let cancel = CancelToken::new();
        self.ns_size = Some(NsSizeRead {
            ns: ns.clone(),
            seq: self.ns_size_seq,
            cancel: cancel.clone(),
        });
        self.commands.push(Command::ReadNsFacts {
            seq: self.ns_size_seq,
            ns,
            groups,
            cancel,
        });
    }

    pub(super) fn on_ns_facts(&mut self, seq: u64, batch: Vec<FactsResult>, done: bool) -> bool {
        if self.ns_size.as_ref().map(|r| r.seq) != Some(seq) {
            return false;
        }
        let mut changed = false;
        for r in batch {
            self.learn_facts(&r);
            changed |= self.model.facts.fill(&r.ns, &r.group, r.result);
        }
        if done {
            // Every group now has a state: the next draw finds nothing left to read.
            self.ns_size = None;
        }
        self.items_dirty |= changed;
        changed
    }

    /// What every manifest read tells beyond the cache: damage, and the comment the search
    /// finds the group by.
    fn learn_facts(&mut self, r: &FactsResult) {
        if let Ok(facts) = &r.result {
            for (time, e) in facts
                .snapshots
                .iter()
                .filter_map(|(t, f)| Some((t, f.as_ref().err()?)))
            {
                if e.is_damage() {
                    let msg = format!("{}/{time} in {}: manifest: {e}", r.group, r.ns.human());
                    self.status.push(Level::Warn, msg);
                }
            }
        }
        if let Ok(facts) = &r.result {
            let comment = facts.comment().map(str::to_string);
            self.index_comment(&r.ns, &r.group, comment);
        }
    }

    /// `i`: the notes of the group or snapshot under the cursor.
    pub(super) fn open_notes(&mut self) -> bool {
        let request = match self.selection() {
            Selection::Group(ns, group) => NotesRequest {
                ns,
                group,
                time: None,
            },
            Selection::Snapshot(ns, group, t) => NotesRequest {
                ns,
                group,
                time: Some(t),
            },
            _ => {
                self.status
                    .push(Level::Info, "notes: put the cursor on a group or snapshot");
                return true;
            }
        };
        self.popup = Some(Popup::Notes(NotesState::new(request.clone())));
        self.commands.push(Command::ReadNotes(request));
        true
    }

    pub(super) fn on_notes(&mut self, r: NotesResult) -> bool {
        match &mut self.popup {
            Some(Popup::Notes(p)) => p.on_notes(r),
            _ => false,
        }
    }

    pub(super) fn after_notes(&mut self, outcome: NotesOutcome) -> bool {
        match outcome {
            NotesOutcome::Stay(changed) => changed,
            NotesOutcome::Close => {
                self.popup = None;
                true
            }
        }
    }
}

/// The group a tree row belongs to: the group itself or a snapshot's.
fn group_of(path: &[NodeKey]) -> Option<(Namespace, GroupId)> {
    match path {
        [.., NodeKey::Group(g)] | [.., NodeKey::Group(g), NodeKey::Snap(_)] => {
            Some((ns_of(path), g.clone()))
        }
        _ => None,
    }
}
