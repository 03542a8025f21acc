//! What `gild plan` computes, as pure functions: due dates (docs/recipe.md) and the order in which
//! pending patches should go into a build.

use std::cmp::Ordering;

use crate::date::Date;
use crate::recipe::{Criticality, Exposure, Policy, Severity};

/// A patch approved in a recipe but not in the image's newest recorded baseline.
#[derive(Debug, Clone)]
pub struct Pending {
    pub image: String,
    /// The recipe file, relative to the workspace.
    pub recipe: String,
    pub id: String,
    pub severity: Severity,
    pub exploited: bool,
    pub fixes: Vec<String>,
    pub released: Option<Date>,
    pub approved: Date,
    pub exposure: Option<Exposure>,
    pub criticality: Option<Criticality>,
    /// `None` when `[policy]` sets no days for its severity.
    pub due: Option<Date>,
}

impl Pending {
    /// Days until due (negative: overdue by that many).
    pub fn days_left(&self, today: Date) -> Option<i64> {
        self.due.map(|d| d.days_since(today))
    }

    /// Overdue when today is after the due date.
    pub fn overdue(&self, today: Date) -> bool {
        self.due.is_some_and(|d| today > d)
    }
}

/// A deferral whose review date has passed.
#[derive(Debug, Clone)]
pub struct Review {
    pub image: String,
    pub recipe: String,
    pub id: String,
    pub reason: String,
    pub mitigation: Option<String>,
    pub review_by: Date,
}

/// `released` (else the approval date) plus the policy's days for the severity, a fraction
/// of them (rounded down) for exploited patches.
pub fn due_date(
    policy: Option<&Policy>,
    severity: Severity,
    exploited: bool,
    released: Option<Date>,
    approved: Date,
) -> Option<Date> {
    let days = policy?.days(severity, exploited)?;
    Some(released.unwrap_or(approved).add_days(days))
}

/// Exploited first, then severity, then the image's exposure and criticality, then the due
/// date (none last); ties by image and id, so the order is stable.
pub fn priority(a: &Pending, b: &Pending) -> Ordering {
    b.exploited
        .cmp(&a.exploited)
        .then(a.severity.cmp(&b.severity))
        .then(exposure_rank(a.exposure).cmp(&exposure_rank(b.exposure)))
        .then(criticality_rank(a.criticality).cmp(&criticality_rank(b.criticality)))
        .then(match (a.due, b.due) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| a.image.cmp(&b.image))
        .then_with(|| a.id.cmp(&b.id))
}

fn exposure_rank(e: Option<Exposure>) -> u8 {
    match e {
        Some(Exposure::Internet) => 0,
        Some(Exposure::Dmz) => 1,
        Some(Exposure::Internal) => 2,
        None => 3,
    }
}

fn criticality_rank(c: Option<Criticality>) -> u8 {
    match c {
        Some(Criticality::High) => 0,
        Some(Criticality::Medium) => 1,
        Some(Criticality::Low) => 2,
        None => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn policy() -> Policy {
        Policy { critical: Some(7), high: Some(30), medium: None, low: Some(180), exploited_factor: 0.5 }
    }

    #[test]
    fn due_dates_follow_the_spec_rule() {
        let p = policy();
        // floor(7 × 0.5) = 3 days from release.
        assert_eq!(
            due_date(Some(&p), Severity::Critical, true, Some(d("2026-11-18")), d("2026-11-20")),
            Some(d("2026-11-21"))
        );
        // From approval when there is no release date.
        assert_eq!(due_date(Some(&p), Severity::High, false, None, d("2026-11-20")), Some(d("2026-12-20")));
        assert_eq!(due_date(Some(&p), Severity::Medium, false, None, d("2026-11-20")), None, "no days for medium");
        assert_eq!(due_date(None, Severity::Critical, true, None, d("2026-11-20")), None, "no policy");
    }

    #[test]
    fn exploited_comes_first_then_severity_then_exposure() {
        let base = Pending {
            image: "a".into(),
            recipe: String::new(),
            id: "x".into(),
            severity: Severity::Low,
            exploited: false,
            fixes: Vec::new(),
            released: None,
            approved: d("2026-11-20"),
            exposure: None,
            criticality: None,
            due: None,
        };
        let exploited_low = Pending { id: "1".into(), exploited: true, ..base.clone() };
        let critical = Pending { id: "2".into(), severity: Severity::Critical, ..base.clone() };
        let critical_internet = Pending {
            id: "3".into(),
            severity: Severity::Critical,
            exposure: Some(Exposure::Internet),
            ..base.clone()
        };
        let mut list = [base.clone(), critical, exploited_low, critical_internet];
        list.sort_by(priority);
        let ids: Vec<&str> = list.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["1", "3", "2", "x"]);
    }
}
