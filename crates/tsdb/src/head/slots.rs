//! The head's series by id, in fixed-size pages: a page is allocated when one of its ids is first used and freed
//! when its last series goes. Ids are handed out densely and never reused, so a flat vector would keep a slot
//! for every series ever removed, and its doubling growth up to as many empty slots as live ones.

use super::MemSeries;
use crate::index::SeriesId;

/// Series per page: small enough that the last, partly used page wastes little.
const PAGE_SLOTS: usize = 256;

#[derive(Debug)]
struct Page {
    slots: Box<[Option<MemSeries>]>,
    live: usize,
}

/// Series by id.
#[derive(Debug, Default)]
pub(crate) struct SeriesSlots {
    pages: Vec<Option<Page>>,
}

impl SeriesSlots {
    pub fn get(&self, id: SeriesId) -> Option<&MemSeries> {
        let (page, slot) = split(id);
        self.pages.get(page)?.as_ref()?.slots[slot].as_ref()
    }

    pub fn get_mut(&mut self, id: SeriesId) -> Option<&mut MemSeries> {
        let (page, slot) = split(id);
        self.pages.get_mut(page)?.as_mut()?.slots[slot].as_mut()
    }

    /// The series of `id`, created empty if missing.
    pub fn get_or_insert(&mut self, id: SeriesId) -> &mut MemSeries {
        let (page, slot) = split(id);
        if self.pages.len() <= page {
            self.pages.resize_with(page + 1, || None);
        }
        let page = self.pages[page]
            .get_or_insert_with(|| Page { slots: std::iter::repeat_with(|| None).take(PAGE_SLOTS).collect(), live: 0 });
        let entry = &mut page.slots[slot];
        if entry.is_none() {
            page.live += 1;
        }
        entry.get_or_insert_with(MemSeries::default)
    }

    /// Removes the series of `id`, freeing its page if it was the last.
    pub fn remove(&mut self, id: SeriesId) {
        let (index, slot) = split(id);
        let Some(Some(page)) = self.pages.get_mut(index) else { return };
        if page.slots[slot].take().is_some() {
            page.live -= 1;
            if page.live == 0 {
                self.pages[index] = None;
            }
        }
    }

    /// Every series with its id, by id.
    pub fn iter(&self) -> impl Iterator<Item = (SeriesId, &MemSeries)> {
        self.iter_from(0)
    }

    /// Every series whose id is `start` or above, with its id, by id.
    pub fn iter_from(&self, start: SeriesId) -> impl Iterator<Item = (SeriesId, &MemSeries)> {
        let pages = self.pages.iter().enumerate().skip(split(start).0);
        pages
            .filter_map(|(p, page)| page.as_ref().map(|page| (p, page)))
            .flat_map(|(p, page)| {
                page.slots.iter().enumerate().filter_map(move |(s, m)| Some((join(p, s), m.as_ref()?)))
            })
            .filter(move |&(id, _)| id >= start)
    }

    /// Every series with its id, by id, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (SeriesId, &mut MemSeries)> {
        self.pages.iter_mut().enumerate().filter_map(|(p, page)| page.as_mut().map(|page| (p, page))).flat_map(
            |(p, page)| page.slots.iter_mut().enumerate().filter_map(move |(s, m)| Some((join(p, s), m.as_mut()?))),
        )
    }

    /// Heap bytes of the page table and the pages (the series' own heap is theirs).
    pub fn heap_bytes(&self) -> usize {
        let pages = self.pages.iter().flatten().count();
        self.pages.capacity() * size_of::<Option<Page>>() + pages * PAGE_SLOTS * size_of::<Option<MemSeries>>()
    }
}

fn split(id: SeriesId) -> (usize, usize) {
    let id = id as usize;
    (id / PAGE_SLOTS, id % PAGE_SLOTS)
}

fn join(page: usize, slot: usize) -> SeriesId {
    // Pages are only made for ids that exist.
    (page * PAGE_SLOTS + slot) as SeriesId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_come_and_go_with_their_series() {
        let mut slots = SeriesSlots::default();
        assert!(slots.get(5).is_none());
        slots.get_or_insert(5);
        slots.get_or_insert(300);
        slots.get_or_insert(301);
        slots.get_or_insert(301);
        let ids: Vec<SeriesId> = slots.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, [5, 300, 301]);
        let from = |start| slots.iter_from(start).map(|(id, _)| id).collect::<Vec<SeriesId>>();
        assert_eq!(from(5), [5, 300, 301]);
        assert_eq!(from(6), [300, 301]);
        assert_eq!(from(301), [301]);
        assert_eq!(from(302), []);
        assert_eq!(from(100_000), []);
        assert_eq!(slots.iter_mut().count(), 3);
        assert!(slots.get_mut(300).is_some());
        let two_pages = slots.heap_bytes();
        slots.remove(5);
        slots.remove(5);
        assert!(slots.get(5).is_none());
        assert!(slots.heap_bytes() < two_pages, "the empty first page is freed");
        slots.remove(300);
        assert!(slots.get(301).is_some());
        slots.remove(301);
        assert_eq!(slots.iter().count(), 0);
        assert!(slots.pages.iter().all(Option::is_none));
    }
}
