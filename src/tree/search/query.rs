//! What the user typed, as a query: whitespace-separated terms, each a case-insensitive
//! substring that must occur. A namespace matches by its path; a group by its type/id,
//! owner, notes or comment, and a term may also name its namespace path (`prod vm/1`) as
//! long as one term is about the group itself (else `prod` would find every group in it).

use super::IndexEntry;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    terms: Vec<String>,
}

impl Query {
    pub fn parse(text: &str) -> Self {
        Self {
            terms: text.split_whitespace().map(str::to_lowercase).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, e: &IndexEntry) -> bool {
        if self.terms.is_empty() {
            return false;
        }
        if e.group.is_none() {
            return self.terms.iter().all(|t| e.own.contains(t.as_str()));
        }
        let mut about_group = false;
        for t in &self.terms {
            let own = e.own.contains(t.as_str());
            if !own && !e.path.contains(t.as_str()) {
                return false;
            }
            about_group |= own;
        }
        about_group
    }

    /// A plain name (a picker row): every term occurs in it.
    pub fn matches_text(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        self.terms.iter().all(|t| text.contains(t.as_str()))
    }
}
