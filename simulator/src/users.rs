//! The users: changes (modify, add), eSignature's unknown users, Users:list marks, and the Admin
//! listing order.

use crate::core::{lock, Sim};
use crate::data::{self, User};

/// A Users:list peculiarity of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListMark {
    /// Left out of Users:list.
    Omitted,
    /// Listed without `userSettings.modifiedDate`.
    Undated,
}

impl ListMark {
    fn get(self, u: &User) -> bool {
        match self {
            ListMark::Omitted => u.list_omitted,
            ListMark::Undated => u.list_undated,
        }
    }
    fn set(self, u: &mut User) {
        match self {
            ListMark::Omitted => u.list_omitted = true,
            ListMark::Undated => u.list_undated = true,
        }
    }
}

impl Sim {
    pub(crate) fn modify_users(&self, n: usize) -> Vec<String> {
        let now = data::now_secs();
        let mut users = lock(&self.users);
        if users.is_empty() {
            return Vec::new();
        }
        let mut cursor = lock(&self.modify_cursor);
        let n = n.min(users.len());
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let i = *cursor % users.len();
            *cursor += 1;
            users[i].modified = now;
            ids.push(users[i].id.clone());
        }
        ids
    }

    pub(crate) fn add_users(&self, n: usize) -> Vec<String> {
        let now = data::now_secs();
        let shuffles = *lock(&self.shuffles);
        let mut users = lock(&self.users);
        let first = users.len() as u64;
        (first..first + n as u64)
            .map(|i| {
                let mut u = data::make_user(self.cfg.seed, i, now, now);
                if shuffles > 0 {
                    u.order = shuffled_order(self.cfg.seed, shuffles, i);
                }
                let id = u.id.clone();
                users.push(u);
                id
            })
            .collect()
    }

    pub(crate) fn user_count(&self) -> usize {
        lock(&self.users).len()
    }

    /// Users in Admin listing order.
    pub(crate) fn sorted_users(&self) -> Vec<User> {
        let mut users = lock(&self.users).clone();
        users.sort_by_key(|u| (u.order, u.index));
        users
    }

    pub(crate) fn user_ids(&self) -> Vec<String> {
        self.sorted_users().into_iter().map(|u| u.id).collect()
    }

    /// A new Admin listing order for every user (seeded: the n-th draw is the same in every run).
    pub(crate) fn reshuffle_admin(&self) {
        let draw = {
            let mut s = lock(&self.shuffles);
            *s += 1;
            *s
        };
        for u in lock(&self.users).iter_mut() {
            u.order = shuffled_order(self.cfg.seed, draw, u.index);
        }
    }

    pub(crate) fn esign_unknown_user_ids(&self) -> Vec<String> {
        lock(&self.users)
            .iter()
            .filter(|u| u.esign_unknown)
            .map(|u| u.id.clone())
            .collect()
    }

    /// eSignature forgets these users; returns how many were found.
    pub(crate) fn esign_forget(&self, ids: &[&str]) -> usize {
        let mut found = 0;
        for u in lock(&self.users).iter_mut() {
            if ids.iter().any(|id| u.id.eq_ignore_ascii_case(id)) {
                u.esign_unknown = true;
                found += 1;
            }
        }
        found
    }

    /// eSignature forgets the `n` most recently created users; returns their ids.
    pub(crate) fn esign_forget_last(&self, n: usize) -> Vec<String> {
        let mut users = lock(&self.users);
        let len = users.len();
        users[len - n.min(len)..]
            .iter_mut()
            .map(|u| {
                u.esign_unknown = true;
                u.id.clone()
            })
            .collect()
    }

    pub(crate) fn esign_know_all(&self) {
        for u in lock(&self.users).iter_mut() {
            u.esign_unknown = false;
        }
    }

    /// Mark `n` more users known to eSignature and not marked yet (neither mark), spread evenly over
    /// the creation order; returns their ids.
    pub(crate) fn mark_list_users(&self, n: usize, mark: ListMark) -> Vec<String> {
        let mut users = lock(&self.users);
        let free: Vec<usize> = users
            .iter()
            .enumerate()
            .filter(|(_, u)| !u.esign_unknown && !u.list_omitted && !u.list_undated)
            .map(|(i, _)| i)
            .collect();
        let n = n.min(free.len());
        (0..n)
            .map(|k| {
                // The middle of the k-th of n equal slices.
                let i = free[(2 * k + 1) * free.len() / (2 * n)];
                mark.set(&mut users[i]);
                users[i].id.clone()
            })
            .collect()
    }

    pub(crate) fn list_marked_ids(&self, mark: ListMark) -> Vec<String> {
        lock(&self.users)
            .iter()
            .filter(|u| mark.get(u))
            .map(|u| u.id.clone())
            .collect()
    }
}

/// User `index`'s listing order after shuffle number `draw`.
fn shuffled_order(seed: u64, draw: u64, index: u64) -> u64 {
    data::h(seed ^ data::mix(draw), 400, index)
}
