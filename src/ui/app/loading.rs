//! Loading the tree level by level: scan requests out, scan results into the model.

use std::path::Path;

use crate::tree::{GroupId, GroupInfo, Listing, Namespace, ScanWarning};
use crate::ui::model::{LoadState, NodeKey, Selection, ns_of};
use crate::ui::panes::status::Level;
use crate::ui::tasks::Command;
use crate::ui::tasks::scans::{ScanRequest, ScanResult};

use super::App;

impl App {
    // ----- loading -----

    pub(super) fn ensure_ns_loaded(&mut self, ns: &Namespace) -> bool {
        match self.model.ns_state(ns) {
            LoadState::NotLoaded | LoadState::Failed(_) => {
                self.load_ns(ns);
                true
            }
            _ => false,
        }
    }

    pub(super) fn ensure_group_loaded(&mut self, ns: &Namespace, group: &GroupId) -> bool {
        let state = self.model.group(ns, group).map(|g| g.state.clone());
        match state {
            Some(LoadState::NotLoaded | LoadState::Failed(_)) => {
                self.load_group(ns, group);
                true
            }
            _ => false,
        }
    }

    /// (Re)lists one namespace level in the background.
    pub fn load_ns(&mut self, ns: &Namespace) {
        let generation = self.model.start_ns_load(ns);
        self.items_dirty = true;
        self.scan(ScanRequest::Namespace {
            generation,
            ns: ns.clone(),
        });
    }

    pub(super) fn scan(&mut self, req: ScanRequest) {
        self.pending += 1;
        self.commands.push(Command::Scan(req));
    }

    /// (Re)lists one group's snapshots in the background.
    pub fn load_group(&mut self, ns: &Namespace, group: &GroupId) {
        if let Some(generation) = self.model.start_group_load(ns, group) {
            self.items_dirty = true;
            self.scan(ScanRequest::Snapshots {
                generation,
                ns: ns.clone(),
                group: group.clone(),
            });
        }
    }

    /// Re-scans `ns` and the snapshots of its opened groups; the cursor stays where it was
    /// (or on the nearest ancestor still there). The move workflow calls this after a move.
    pub fn refresh_ns(&mut self, ns: &Namespace) {
        let opened_groups: Vec<GroupId> = self
            .tree_state
            .opened()
            .iter()
            .filter_map(|p| match p.last() {
                Some(NodeKey::Group(g)) if ns_of(p) == *ns => Some(g.clone()),
                _ => None,
            })
            .collect();
        self.model.facts.forget_ns(ns);
        self.load_ns(ns);
        for g in opened_groups {
            self.load_group(ns, &g);
        }
    }

    pub(super) fn refresh_selected(&mut self) -> bool {
        let ns = match self.selection() {
            Selection::Ns(ns) => ns,
            Selection::Group(ns, _) | Selection::Snapshot(ns, _, _) => ns,
            Selection::Placeholder => ns_of(self.tree_state.selected()),
            Selection::None => return false,
        };
        self.refresh_ns(&ns);
        self.status
            .push(Level::Info, format!("re-scanning {}", ns.human()));
        true
    }

    /// Applies a scan result; `true` when it changed anything visible.
    pub fn on_scan(&mut self, result: ScanResult) -> bool {
        if result.is_final() {
            self.pending = self.pending.saturating_sub(1);
        }
        let changed = match result {
            ScanResult::NamespacePart {
                generation,
                ns,
                children,
                groups,
                total,
            } => self
                .model
                .apply_ns_part(&ns, generation, children, groups, total),
            ScanResult::Namespace {
                generation,
                ns,
                result,
            } => self.on_ns_listing(ns, generation, result),
            ScanResult::Sizes {
                generation,
                ns,
                infos,
                warnings,
                done,
            } => {
                self.report(&warnings);
                self.model.apply_sizes(&ns, generation, infos, done)
            }
            ScanResult::Snapshots {
                generation,
                ns,
                group,
                result,
            } => {
                let result = result.map(|l| {
                    self.report(&l.warnings);
                    l.items
                });
                if let Err(e) = &result {
                    self.status.push(Level::Error, e.clone());
                }
                self.model
                    .finish_group_load(&ns, &group, generation, result)
            }
        };
        self.items_dirty |= changed;
        changed
    }

    pub(super) fn on_ns_listing(
        &mut self,
        ns: Namespace,
        generation: u64,
        result: Result<(Listing<Namespace>, Listing<GroupInfo>), String>,
    ) -> bool {
        let result = match result {
            Ok((children, groups)) => {
                self.report(&children.warnings);
                self.report(&groups.warnings);
                Ok((children.items, groups.items))
            }
            Err(e) => {
                self.status
                    .push(Level::Error, format!("cannot list {}: {e}", ns.human()));
                Err(e)
            }
        };
        let listed = result.as_ref().ok().cloned();
        let was_partial = self.model.ns(&ns).is_some_and(|e| e.is_partial());
        if !self.model.finish_ns_load(&ns, generation, result) {
            return false;
        }
        self.urgent_frame |= was_partial;
        if ns.is_root() {
            self.start_deferred_index();
        }
        if let Some((children, groups)) = listed {
            self.index_listing(&ns, &children, &groups);
        }
        if let Some(entry) = self.model.ns(&ns).filter(|e| e.sizing) {
            let groups = entry.groups.iter().map(|g| g.info.group.clone()).collect();
            self.scan(ScanRequest::Sizes {
                generation,
                ns,
                groups,
            });
        }
        true
    }

    pub(super) fn report(&mut self, warnings: &[ScanWarning]) {
        for w in warnings {
            let path = relative(&self.ctx.ds.base, &w.path);
            self.status
                .push(Level::Warn, format!("{path}: {}", w.message));
        }
    }
}

fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}
