//! Tests of `block`: round trips on the file system, releasing mapped pages, selection and label queries against
//! the head index, corruption and hostile bytes, crash safety on `MemBackend`, writer misuse, and the index's size.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use roaring::RoaringBitmap;
use vigil_model::{Labels, MatchOp, Matcher};
use vigil_tsdb::backend::{Backend, DirEntry, FsBackend, Mapped, MemBackend, WritableFile};
use vigil_tsdb::block::{
    remove_tmp_dirs, tmp_dir, Block, BlockError, BlockMeta, BlockParams, BlockWriter, ChunkData, CHUNKS_FORMAT_VERSION,
};
use vigil_tsdb::chunk::{Chunk, ChunkAppender, Encoding};
use vigil_tsdb::index::Index;

const BLOCKS: &str = "/db/blocks";
const BLOCK: &str = "/db/blocks/b1";
const MIN_T: i64 = 1_700_000_000_000;
const MAX_T: i64 = MIN_T + 7_200_000;

type Series = (Labels, Vec<ChunkData>);

fn params() -> BlockParams {
    BlockParams { min_t: MIN_T, max_t: MAX_T, resolution_ms: 0, level: 1, sources: Vec::new() }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

/// SplitMix64: a seeded generator, so every failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A chunk of `n` samples 15 s apart from `start`.
fn chunk(rng: &mut Rng, start: i64, n: usize) -> ChunkData {
    let mut a = ChunkAppender::new();
    let mut t = start;
    for _ in 0..n {
        a.append(t, rng.below(1000) as f64 / 10.0).unwrap();
        t += 15_000 + rng.below(3) as i64;
    }
    ChunkData { min_t: a.min_time(), max_t: a.max_time(), bytes: a.bytes().to_vec() }
}

/// The samples of a chunk as (timestamp, value bits).
fn samples_of(bytes: &[u8]) -> Vec<(i64, u64)> {
    let chunk = vigil_tsdb::chunk::Chunk::from_bytes(bytes).unwrap();
    chunk.iter().map(|s| s.map(|(t, v)| (t, v.to_bits()))).collect::<Result<_, _>>().unwrap()
}

/// `count` distinct random series in label order, each with 1 to 4 chunks inside the block.
fn random_series(seed: u64, count: usize) -> Vec<Series> {
    let mut rng = Rng(seed);
    let mut sets = BTreeSet::new();
    while sets.len() < count {
        let name = format!("metric_{}", rng.below(20));
        let instance = format!("host-{}:9100", rng.below(10));
        let mut pairs = vec![("__name__".to_string(), name), ("instance".to_string(), instance)];
        pairs.push(("job".into(), rng.pick(&["node", "vigil"]).into()));
        if rng.below(2) == 0 {
            pairs.push(("cpu".into(), rng.below(8).to_string()));
            pairs.push(("mode".into(), rng.pick(&["idle", "user", "system", ""]).into()));
        }
        if rng.below(3) == 0 {
            pairs.push(("device".into(), rng.pick(&["sda", "sda1", "nvme0n1", "é/ü", "a\"b"]).into()));
        }
        sets.insert(Labels::from_pairs(pairs).unwrap());
    }
    sets.into_iter()
        .map(|labels| {
            let mut chunks = Vec::new();
            let mut t = MIN_T + rng.below(15_000) as i64;
            for _ in 0..1 + rng.below(4) {
                let samples = 1 + rng.below(40) as usize;
                let c = chunk(&mut rng, t, samples);
                t = c.max_t + 15_000 + rng.below(100_000) as i64;
                chunks.push(c);
            }
            (labels, chunks)
        })
        .collect()
}

fn write_block(backend: Arc<dyn Backend>, dir: &Path, series: &[Series]) -> Result<BlockMeta, BlockError> {
    let mut writer = BlockWriter::create(backend, dir, params())?;
    for (labels, chunks) in series {
        writer.add_series(labels, chunks)?;
    }
    writer.finish()
}

/// A `MemBackend` whose `/db/blocks` directory is durable.
fn mem_backend() -> MemBackend {
    let mem = MemBackend::new();
    mem.create_dir_all(Path::new(BLOCKS)).unwrap();
    mem.sync_dir(Path::new("/")).unwrap();
    mem.sync_dir(Path::new("/db")).unwrap();
    mem
}

fn open(mem: &MemBackend) -> Result<Block, BlockError> {
    Block::open(Arc::new(mem.clone()), Path::new(BLOCK))
}

/// Asserts that the block holds exactly `series` and passes `verify`.
fn assert_holds(block: &Block, series: &[Series]) {
    assert_eq!(block.num_series() as usize, series.len());
    for (ord, (labels, chunks)) in series.iter().enumerate() {
        let (got, refs) = block.series(ord as u32).unwrap();
        assert_eq!(&got, labels, "series {ord}");
        assert_eq!(refs.len(), chunks.len(), "{labels}");
        for (r, c) in refs.iter().zip(chunks) {
            assert_eq!((r.min_t, r.max_t), (c.min_t, c.max_t), "{labels}");
            let mut stored = Vec::new();
            block.decode(r, i64::MIN, i64::MAX, &mut stored).unwrap();
            assert_eq!(stored, samples_of(&c.bytes), "{labels}");
        }
    }
    block.verify().unwrap();
}

#[test]
fn round_trip_on_the_file_system() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b1");
    let all = random_series(1, 300);
    let backend: Arc<dyn Backend> = Arc::new(FsBackend);
    let mut writer = BlockWriter::create(Arc::clone(&backend), &dir, params()).unwrap();
    let mut series = Vec::new();
    for (i, (labels, chunks)) in all.into_iter().enumerate() {
        // A series without chunks is left out.
        if i % 50 == 0 {
            writer.add_series(&labels, &[]).unwrap();
            continue;
        }
        writer.add_series(&labels, &chunks).unwrap();
        series.push((labels, chunks));
    }
    let meta = writer.finish().unwrap();
    assert!(!tmp_dir(&dir).exists());

    let block = Block::open(backend, &dir).unwrap();
    assert_eq!(block.meta(), &meta);
    assert_eq!(block.dir(), dir);
    assert_eq!((meta.version, meta.min_t, meta.max_t, meta.level, meta.resolution_ms), (1, MIN_T, MAX_T, 1, 0));
    assert_eq!(meta.stats.series, 294);
    assert_eq!(meta.stats.chunks, series.iter().map(|s| s.1.len() as u64).sum::<u64>());
    let samples: usize = series
        .iter()
        .flat_map(|s| &s.1)
        .map(|c| vigil_tsdb::chunk::Chunk::from_bytes(&c.bytes).unwrap().num_samples())
        .sum();
    assert_eq!(meta.stats.samples, samples as u64);
    assert_holds(&block, &series);
    // Ordinals are in label order.
    let read: Vec<Labels> = (0..block.num_series()).map(|ord| block.series(ord).unwrap().0).collect();
    assert!(read.windows(2).all(|w| w[0] < w[1]));
    assert!(block.series(block.num_series()).is_err());

    let files: u64 =
        ["meta.json", "index", "chunks"].iter().map(|f| std::fs::metadata(dir.join(f)).unwrap().len()).sum();
    assert_eq!(block.size_bytes(), files);

    // An existing block is never overwritten.
    let again = BlockWriter::create(Arc::new(FsBackend), &dir, params());
    assert!(matches!(again, Err(BlockError::InvalidInput(_))), "{again:?}");
}

#[test]
fn empty_blocks_and_files_are_readable() {
    let mem = mem_backend();
    let meta = write_block(Arc::new(mem.clone()), Path::new(BLOCK), &[]).unwrap();
    assert_eq!(meta.stats.series, 0);
    let block = open(&mem).unwrap();
    assert_eq!(block.num_series(), 0);
    assert!(block.select(&[]).unwrap().is_empty());
    let m = Matcher::new(MatchOp::Equal, "a", "").unwrap();
    assert!(block.select(&[m]).unwrap().is_empty());
    assert!(block.label_names(&RoaringBitmap::new()).unwrap().is_empty());
    block.verify().unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("empty");
    std::fs::write(&path, b"").unwrap();
    assert!(FsBackend.map(&path).unwrap().is_empty());
}

/// The resident kilobytes of this process's mapping that starts at `addr`, from `/proc/self/smaps`.
fn resident_kb(addr: *const u8) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let start = format!("{:08x}-", addr as usize);
    let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&start)).skip(1);
    let rss = lines.find_map(|l| l.strip_prefix("Rss:")).unwrap();
    rss.trim().trim_end_matches("kB").trim().parse().unwrap()
}

#[test]
fn released_pages_of_a_mapped_file_leave_the_process_and_read_back_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("data");
    let bytes: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(&path, &bytes).unwrap();

    let map = FsBackend.map(&path).unwrap();
    assert_eq!(&map[..], &bytes[..]);
    assert!(resident_kb(map.as_ptr()) >= 1024);
    map.release_pages();
    assert_eq!(resident_kb(map.as_ptr()), 0);
    assert_eq!(&map[..], &bytes[..]);
    assert!(resident_kb(map.as_ptr()) >= 1024);

    // On the heap, releasing does nothing.
    let mem = MemBackend::new();
    mem.create_new(Path::new("/data")).unwrap().write_all(&bytes).unwrap();
    let map = mem.map(Path::new("/data")).unwrap();
    map.release_pages();
    assert_eq!(&map[..], &bytes[..]);
}

#[test]
fn a_block_reads_the_same_after_releasing_its_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b1");
    let series = random_series(7, 200);
    write_block(Arc::new(FsBackend), &dir, &series).unwrap();
    let block = Block::open(Arc::new(FsBackend), &dir).unwrap();
    assert_holds(&block, &series);
    block.release_pages();
    assert_holds(&block, &series);

    let mem = mem_backend();
    write_block(Arc::new(mem.clone()), Path::new(BLOCK), &series).unwrap();
    let block = open(&mem).unwrap();
    block.release_pages();
    assert_holds(&block, &series);
}

// Differential tests against the head index.

const NAMES: [&str; 5] = ["__name__", "a", "b", "c", "d"];
const VALUES: [&str; 9] = ["", "x", "xy", "xyz", "y", "fo", "foo", "foobar", "é"];
const PATTERNS: [&str; 18] = [
    "",
    "x",
    "xy",
    "x|y",
    "x.*",
    "fo.*",
    "foo.+",
    ".*",
    ".+",
    "x.*|",
    "(xy|foo)",
    "f.o.*",
    "é|x",
    "[xy]+",
    "xy?z?",
    "foo(bar)?",
    "nope",
    "y|",
];

fn label_set() -> impl Strategy<Value = Labels> {
    prop::collection::vec(0..VALUES.len(), 4)
        .prop_map(|values| Labels::from_pairs(NAMES[..4].iter().zip(values).map(|(n, v)| (*n, VALUES[v]))).unwrap())
}

fn matcher() -> impl Strategy<Value = Matcher> {
    let op = prop::sample::select(vec![MatchOp::Equal, MatchOp::NotEqual, MatchOp::Regex, MatchOp::NotRegex]);
    (op, prop::sample::select(NAMES.to_vec()), prop::sample::select(PATTERNS.to_vec()))
        .prop_map(|(op, name, value)| Matcher::new(op, name, value).unwrap())
}

/// A block and an index holding the same series; the index gets them in another order.
fn block_and_index(sets: &[Labels]) -> (Block, Index, Vec<u32>) {
    let mem = mem_backend();
    let sorted: BTreeSet<Labels> = sets.iter().cloned().collect();
    let mut rng = Rng(sorted.len() as u64);
    let series: Vec<Series> = sorted.into_iter().map(|l| (l, vec![chunk(&mut rng, MIN_T, 2)])).collect();
    write_block(Arc::new(mem.clone()), Path::new(BLOCK), &series).unwrap();
    let mut index = Index::new();
    for labels in sets.iter().rev() {
        index.get_or_create(labels).unwrap();
    }
    let block = open(&mem).unwrap();
    let ids = series.iter().map(|(l, _)| index.get(l).unwrap()).collect();
    (block, index, ids)
}

fn to_index_ids(ids: &[u32], ords: &RoaringBitmap) -> RoaringBitmap {
    ords.iter().filter_map(|ord| ids.get(ord as usize).copied()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn select_agrees_with_the_head_index(
        sets in prop::collection::vec(label_set(), 0..40),
        selectors in prop::collection::vec(prop::collection::vec(matcher(), 0..4), 12),
    ) {
        let (block, index, ids) = block_and_index(&sets);
        for matchers in &selectors {
            let got = to_index_ids(&ids, &block.select(matchers).unwrap());
            prop_assert_eq!(got, index.select(matchers), "{:?}", matchers);
        }
    }

    #[test]
    fn label_names_and_values_agree_with_the_head_index(
        sets in prop::collection::vec(label_set(), 0..40),
        subsets in prop::collection::vec(prop::collection::vec(any::<bool>(), 40), 6),
    ) {
        let (block, index, ids) = block_and_index(&sets);
        let n = block.num_series();
        let mut choices: Vec<RoaringBitmap> = subsets
            .iter()
            .map(|keep| (0..n).filter(|&ord| keep[ord as usize]).collect())
            .collect();
        choices.push((0..n + 3).collect());
        choices.push(RoaringBitmap::new());
        for ords in &choices {
            let in_index = to_index_ids(&ids, ords);
            let names: Vec<String> = index.label_names(&in_index).iter().map(|s| s.to_string()).collect();
            prop_assert_eq!(block.label_names(ords).unwrap(), names);
            for name in NAMES {
                let values: Vec<String> = index.label_values(name, &in_index).iter().map(|s| s.to_string()).collect();
                prop_assert_eq!(block.label_values(name, ords).unwrap(), values);
            }
        }
    }
}

#[test]
fn literal_fast_paths_find_exactly_their_values() {
    let sets: Vec<Labels> = ["fo", "foo", "foobar", "fop", "g", "x"]
        .iter()
        .map(|v| labels(&[("__name__", "m"), ("a", v)]))
        .chain([labels(&[("__name__", "m")])])
        .collect();
    let (block, _, _) = block_and_index(&sets);
    let select = |op, value| {
        let ords = block.select(&[Matcher::new(op, "a", value).unwrap()]).unwrap();
        ords.iter().map(|ord| block.series(ord).unwrap().0.get("a").unwrap_or("").to_string()).collect::<Vec<_>>()
    };
    assert_eq!(select(MatchOp::Regex, "foo.*"), ["foo", "foobar"]);
    assert_eq!(select(MatchOp::Regex, "fo|g|nope"), ["fo", "g"]);
    assert_eq!(select(MatchOp::NotRegex, "fo.+"), ["", "fo", "g", "x"]);
    assert_eq!(select(MatchOp::Equal, ""), [""]);
    assert_eq!(select(MatchOp::Regex, "zz.*"), Vec::<String>::new());
}

// Corruption and hostile bytes.

fn path_of(e: &BlockError) -> Option<&Path> {
    match e {
        BlockError::Io { path, .. }
        | BlockError::Corrupt { path, .. }
        | BlockError::UnsupportedVersion { path, .. } => Some(path),
        BlockError::InvalidInput(_) => None,
    }
}

fn file(name: &str) -> PathBuf {
    Path::new(BLOCK).join(name)
}

/// A small block on a `MemBackend`.
fn small_block() -> (MemBackend, Vec<Series>) {
    let mem = mem_backend();
    let series = random_series(7, 20);
    write_block(Arc::new(mem.clone()), Path::new(BLOCK), &series).unwrap();
    (mem, series)
}

#[test]
fn values_chunks_are_packed_and_older_chunks_files_still_read() {
    let (mem, series) = small_block();
    let block = open(&mem).unwrap();
    // The chunks' decimal values are stored in the split encoding, behind the version 3 header.
    let refs: Vec<_> = (0..block.num_series()).flat_map(|ord| block.series(ord).unwrap().1).collect();
    let split = refs.iter().filter(|r| block.chunk(r).unwrap()[0] == Encoding::Split as u8).count();
    assert!(split > 0, "no chunk of {} is split", refs.len());
    assert_eq!(mem.read(&file("chunks"), u64::MAX).unwrap()[4], CHUNKS_FORMAT_VERSION);
    drop(block);
    // Version 1 files (no grouped chunks, else identical) are read; a newer version is refused, naming the file.
    mem.corrupt(&file("chunks"), |d| d[4] = 1).unwrap();
    assert_holds(&open(&mem).unwrap(), &series);
    mem.corrupt(&file("chunks"), |d| d[4] = CHUNKS_FORMAT_VERSION + 1).unwrap();
    let err = open(&mem).unwrap_err();
    let newer = u32::from(CHUNKS_FORMAT_VERSION + 1);
    assert!(
        matches!(&err, BlockError::UnsupportedVersion { path, version } if *path == file("chunks") && *version == newer),
        "{err}"
    );
}

#[test]
fn a_version_2_chunks_file_with_grouped_chunks_still_reads() {
    let (mem, series) = small_block();
    let block = open(&mem).unwrap();
    let refs: Vec<_> = (0..block.num_series()).flat_map(|ord| block.series(ord).unwrap().1).collect();
    // What a version 2 writer stored: each split chunk as its grouped equivalent, which takes as many bytes.
    let mut rewrites = Vec::new();
    for r in &refs {
        let bytes = block.chunk(r).unwrap();
        if bytes[0] == Encoding::Split as u8 {
            let grouped = as_grouped(bytes);
            assert_eq!(grouped.len(), bytes.len());
            rewrites.push((r.offset as usize, grouped));
        }
    }
    assert!(!rewrites.is_empty());
    drop(block);
    mem.corrupt(&file("chunks"), |d| {
        d[4] = 2;
        for (offset, grouped) in &rewrites {
            rewrite_record(d, *offset, grouped);
        }
    })
    .unwrap();
    let block = open(&mem).unwrap();
    assert!(refs.iter().all(|r| block.chunk(r).unwrap()[0] != Encoding::Split as u8));
    assert_holds(&block, &series);
}

/// A split chunk's samples packed in the grouped encoding.
fn as_grouped(split: &[u8]) -> Vec<u8> {
    let mut compact = ChunkAppender::new();
    for (t, v) in samples_of(split) {
        compact.append(t, f64::from_bits(v)).unwrap();
    }
    Chunk::from_bytes(compact.bytes()).unwrap().pack_as(Encoding::Grouped).unwrap().unwrap()
}

/// Replaces the chunk of the `chunks` record at `offset` by `chunk`, of the same length, and its CRC.
fn rewrite_record(data: &mut [u8], offset: usize, chunk: &[u8]) {
    let varint = data[offset..].iter().position(|&b| b & 0x80 == 0).unwrap() + 1;
    let start = offset + varint;
    let end = start + chunk.len();
    data[start..end].copy_from_slice(chunk);
    let crc = crc32fast::hash(&data[offset..end]).to_le_bytes();
    data[end..end + 4].copy_from_slice(&crc);
}

#[test]
fn a_flipped_bit_in_a_chunk_is_caught_when_read_and_by_verify() {
    let (mem, _) = small_block();
    let r = open(&mem).unwrap().series(3).unwrap().1[0];
    mem.corrupt(&file("chunks"), |d| d[r.offset as usize + 3] ^= 0x10).unwrap();
    let block = open(&mem).unwrap();
    let err = block.chunk(&r).unwrap_err();
    assert!(
        matches!(&err, BlockError::Corrupt { path, offset: Some(o), .. } if *path == file("chunks") && *o == r.offset),
        "{err}"
    );
    assert!(err.to_string().contains("/db/blocks/b1/chunks"), "{err}");
    let err = block.verify().unwrap_err();
    assert!(matches!(&err, BlockError::Corrupt { path, .. } if *path == file("chunks")), "{err}");
}

#[test]
fn every_flipped_bit_in_index_or_meta_fails_open_naming_the_file() {
    let (mem, _) = small_block();
    for name in ["index", "meta.json"] {
        let path = file(name);
        let len = mem.file_len(&path).unwrap() as usize;
        for bit in 0..len * 8 {
            let flip = |d: &mut Vec<u8>| d[bit / 8] ^= 1 << (bit % 8);
            mem.corrupt(&path, flip).unwrap();
            let err = open(&mem).unwrap_err();
            assert_eq!(path_of(&err), Some(path.as_path()), "bit {bit} of {name}: {err}");
            assert!(
                matches!(err, BlockError::Corrupt { .. }) || (name == "index" && bit / 8 == 4),
                "bit {bit} of {name}: {err}"
            );
            mem.corrupt(&path, flip).unwrap();
        }
    }
    open(&mem).unwrap().verify().unwrap();
}

#[test]
fn truncated_and_missing_files_are_errors() {
    let (mem, _) = small_block();
    for name in ["index", "meta.json", "chunks"] {
        let path = file(name);
        let original = mem.read(&path, u64::MAX).unwrap();
        let len = original.len();
        for cut in [0, 1, 7, 8, 9, len / 2, len - 5, len - 4, len - 1] {
            mem.corrupt(&path, |d| d.truncate(cut)).unwrap();
            match open(&mem) {
                Err(err) => assert_eq!(path_of(&err), Some(path.as_path()), "{name} cut at {cut}: {err}"),
                // Chunks are checked when read.
                Ok(block) => {
                    assert_eq!(name, "chunks", "{name} cut at {cut} opened");
                    let err = block.verify().unwrap_err();
                    assert_eq!(path_of(&err), Some(path.as_path()), "{name} cut at {cut}: {err}");
                }
            }
            mem.corrupt(&path, |d| d.clone_from(&original)).unwrap();
        }
        mem.remove_file(&path).unwrap();
        let err = open(&mem).unwrap_err();
        assert!(matches!(&err, BlockError::Io { path: p, .. } if *p == path), "{err}");
        mem.create_new(&path).unwrap().write_all(&original).unwrap();
    }
    open(&mem).unwrap().verify().unwrap();
}

/// Runs every read operation on a block, for hostile-input tests: errors are fine, panics are not.
fn exercise(block: &Block) {
    let all: RoaringBitmap = (0..block.num_series().min(1000)).collect();
    for ord in &all {
        if let Ok((_, refs)) = block.series(ord) {
            for r in refs.iter().take(4) {
                let _ = block.chunk(r);
            }
        }
    }
    for (op, name, value) in
        [(MatchOp::Equal, "job", "node"), (MatchOp::Regex, "__name__", "metric_1.*"), (MatchOp::NotRegex, "cpu", "1|2")]
    {
        let _ = block.select(&[Matcher::new(op, name, value).unwrap()]);
    }
    let _ = block.select(&[]);
    let _ = block.label_names(&all);
    let _ = block.label_names(&all.iter().step_by(3).collect());
    let _ = block.label_values("instance", &all);
    let _ = block.label_values("cpu", &all.iter().take(2).collect());
    let _ = block.verify();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn garbage_files_are_errors(which in 0..3usize, bytes in prop::collection::vec(any::<u8>(), 0..600), header in any::<bool>()) {
        let (mem, _) = small_block();
        let name = ["index", "meta.json", "chunks"][which];
        let mut data = match (header, name) {
            (true, "index") => b"VIDX\x01\0\0\0".to_vec(),
            (true, "chunks") => b"VCHK\x01\0\0\0".to_vec(),
            _ => Vec::new(),
        };
        data.extend_from_slice(&bytes);
        if name == "index" && data.len() >= 4 {
            // A valid checksum, so the table of contents and the sections are parsed.
            let crc = crc32fast::hash(&data[..data.len() - 4]).to_le_bytes();
            let n = data.len();
            data[n - 4..].copy_from_slice(&crc);
        }
        mem.corrupt(&file(name), |d| *d = data).unwrap();
        if let Ok(block) = open(&mem) {
            exercise(&block);
        }
    }

    #[test]
    fn damaged_indexes_with_valid_checksums_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let (mem, _) = small_block();
        mem.corrupt(&file("index"), |d| {
            let n = d.len();
            for (at, byte) in &edits {
                d[at.index(n - 4)] = *byte;
            }
            let crc = crc32fast::hash(&d[..n - 4]).to_le_bytes();
            d[n - 4..].copy_from_slice(&crc);
        })
        .unwrap();
        if let Ok(block) = open(&mem) {
            exercise(&block);
        }
    }
}

// Crash safety.

/// Asserts that after a failure the block is complete or absent, and only `<dir>.tmp` may be left besides.
fn assert_complete_or_absent(mem: &MemBackend, series: &[Series], context: &str) {
    let names: Vec<String> = mem.list_dir(Path::new(BLOCKS)).unwrap().into_iter().map(|e| e.name).collect();
    assert!(names.iter().all(|n| n == "b1" || n == "b1.tmp"), "{context}: {names:?}");
    if mem.exists(Path::new(BLOCK)).unwrap() {
        let block = open(mem).unwrap_or_else(|e| panic!("{context}: {e}"));
        assert_holds(&block, series);
    }
}

#[test]
fn a_crash_at_any_step_leaves_the_block_complete_or_absent() {
    let series = random_series(3, 30);
    for torn in [0, 7] {
        let mut finished = false;
        for n in 0..200 {
            let mem = mem_backend();
            mem.halt_after(n);
            let result = write_block(Arc::new(mem.clone()), Path::new(BLOCK), &series);
            mem.crash_torn(torn);
            let context = format!("halt after {n}, torn {torn}: {result:?}");
            assert_complete_or_absent(&mem, &series, &context);
            if result.is_ok() {
                assert!(mem.exists(Path::new(BLOCK)).unwrap(), "{context}");
                finished = true;
                break;
            }
            // Start-up removes the leftovers, and the block can be written again.
            remove_tmp_dirs(&mem, Path::new(BLOCKS)).unwrap();
            assert!(!mem.exists(&tmp_dir(Path::new(BLOCK))).unwrap());
            if !mem.exists(Path::new(BLOCK)).unwrap() {
                write_block(Arc::new(mem.clone()), Path::new(BLOCK), &series).unwrap();
                assert_holds(&open(&mem).unwrap(), &series);
            }
        }
        assert!(finished);
    }
}

#[test]
fn a_failed_fsync_at_any_step_leaves_the_block_complete_or_absent() {
    let series = random_series(4, 30);
    let mut failed = 0;
    for k in 0..50 {
        let mem = mem_backend();
        let faulty = Arc::new(FailNthSync { inner: mem.clone(), left: Arc::new(AtomicI64::new(k)) });
        let result = write_block(faulty, Path::new(BLOCK), &series);
        let context = format!("sync {k} fails: {result:?}");
        if result.is_ok() {
            break;
        }
        failed += 1;
        assert!(matches!(result, Err(BlockError::Io { .. })), "{context}");
        assert_complete_or_absent(&mem, &series, &context);
        mem.crash();
        assert_complete_or_absent(&mem, &series, &context);
    }
    // The chunks, index and meta.json files, the temporary and the parent directory.
    assert_eq!(failed, 5);
}

#[test]
fn a_torn_write_leaves_no_block() {
    let series = random_series(5, 30);
    for keep in [0, 100] {
        let mem = mem_backend();
        let mut writer = BlockWriter::create(Arc::new(mem.clone()), Path::new(BLOCK), params()).unwrap();
        for (labels, chunks) in &series {
            writer.add_series(labels, chunks).unwrap();
        }
        mem.fail_next_write_after(keep);
        assert!(matches!(writer.finish(), Err(BlockError::Io { .. })));
        assert!(!mem.exists(Path::new(BLOCK)).unwrap());
        mem.crash();
        assert!(!mem.exists(Path::new(BLOCK)).unwrap());
    }
}

#[test]
fn a_writer_refuses_to_go_on_after_a_failed_write() {
    // Two chunks of about 600 kB each overflow the 1 MiB write buffer on the second series.
    let mut rng = Rng(9);
    let mut a = ChunkAppender::with_encoding(Encoding::Gorilla);
    for i in 0..u16::MAX as i64 {
        a.append(MIN_T + i, f64::from_bits(rng.next() >> 2)).unwrap();
    }
    let big = ChunkData { min_t: a.min_time(), max_t: a.max_time(), bytes: a.bytes().to_vec() };
    let mem = mem_backend();
    let mut writer = BlockWriter::create(Arc::new(mem.clone()), Path::new(BLOCK), params()).unwrap();
    writer.add_series(&labels(&[("a", "1")]), std::slice::from_ref(&big)).unwrap();
    mem.fail_next_write_after(0);
    assert!(matches!(
        writer.add_series(&labels(&[("a", "2")]), std::slice::from_ref(&big)),
        Err(BlockError::Io { .. })
    ));
    let again = writer.add_series(&labels(&[("a", "3")]), std::slice::from_ref(&big));
    assert!(matches!(again, Err(BlockError::InvalidInput(_))), "{again:?}");
    assert!(writer.finish().is_err());
    assert!(!mem.exists(Path::new(BLOCK)).unwrap());
}

#[test]
fn a_stale_temporary_directory_is_replaced() {
    let mem = mem_backend();
    let tmp = tmp_dir(Path::new(BLOCK));
    mem.create_dir_all(&tmp.join("sub")).unwrap();
    mem.create_new(&tmp.join("chunks")).unwrap().write_all(b"junk").unwrap();
    let series = random_series(6, 5);
    write_block(Arc::new(mem.clone()), Path::new(BLOCK), &series).unwrap();
    assert!(!mem.exists(&tmp).unwrap());
    assert_holds(&open(&mem).unwrap(), &series);
}

// Writer misuse.

#[test]
fn writer_refuses_misuse_and_stays_usable() {
    let mem = mem_backend();
    let mut rng = Rng(11);
    let c = |rng: &mut Rng, start: i64| chunk(rng, start, 3);
    let mut writer = BlockWriter::create(Arc::new(mem.clone()), Path::new(BLOCK), params()).unwrap();
    let (a, b, d) = (labels(&[("x", "a")]), labels(&[("x", "b")]), labels(&[("x", "d")]));
    let b_chunks = vec![c(&mut rng, MIN_T)];
    writer.add_series(&b, &b_chunks).unwrap();

    let first = c(&mut rng, MIN_T + 1000);
    let overlapping = c(&mut rng, first.max_t);
    let misuse: Vec<(Labels, Vec<ChunkData>)> = vec![
        (a.clone(), vec![c(&mut rng, MIN_T)]),
        (b.clone(), vec![c(&mut rng, MIN_T)]),
        (d.clone(), vec![first.clone(), overlapping]),
        (d.clone(), vec![c(&mut rng, MIN_T - 1)]),
        (d.clone(), vec![c(&mut rng, MAX_T - 30_000)]),
        (d.clone(), vec![ChunkData { min_t: MIN_T + 5, max_t: MIN_T, ..first.clone() }]),
        (d.clone(), vec![ChunkData { bytes: vec![9, 0, 1], ..first.clone() }]),
        (d.clone(), vec![ChunkData { bytes: ChunkAppender::new().bytes().to_vec(), ..first.clone() }]),
    ];
    for (labels, chunks) in &misuse {
        let err = writer.add_series(labels, chunks).unwrap_err();
        assert!(matches!(err, BlockError::InvalidInput(_)), "{labels}: {err}");
    }
    let d_chunks = vec![c(&mut rng, MIN_T)];
    writer.add_series(&d, &d_chunks).unwrap();
    writer.finish().unwrap();
    assert_holds(&open(&mem).unwrap(), &[(b, b_chunks), (d, d_chunks)]);

    let backend: Arc<dyn Backend> = Arc::new(mem.clone());
    let bad_params = [
        BlockParams { max_t: MIN_T, ..params() },
        BlockParams { level: 0, ..params() },
        BlockParams { resolution_ms: -1, ..params() },
    ];
    for p in bad_params {
        let err = BlockWriter::create(Arc::clone(&backend), Path::new("/db/blocks/b2"), p).unwrap_err();
        assert!(matches!(err, BlockError::InvalidInput(_)), "{err}");
    }
    let err = BlockWriter::create(Arc::clone(&backend), Path::new("/nope/b"), params()).unwrap_err();
    assert!(matches!(&err, BlockError::Io { path, .. } if path == Path::new("/nope")), "{err}");
}

// Size.

/// Calls `f` with node_exporter-like series: 1000 per host over about 330 metric names, with `instance`, `job`
/// and per-family `cpu`, `mode`, `device`, `fstype`, `mountpoint`, `chip` and `sensor` labels (as the
/// `index_mem` example).
fn node_exporter_series(hosts: usize, mut f: impl FnMut(Labels)) {
    for h in 0..hosts {
        let instance = format!("host-{h:03}:9100");
        let mut push = |name: &str, extra: &[(&str, &str)]| {
            let mut pairs = vec![("__name__", name), ("instance", instance.as_str()), ("job", "node")];
            pairs.extend_from_slice(extra);
            f(Labels::from_pairs(pairs).unwrap());
        };
        for cpu in 0..16 {
            let cpu = cpu.to_string();
            for mode in ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"] {
                push("node_cpu_seconds_total", &[("cpu", &cpu), ("mode", mode)]);
            }
            for mode in ["nice", "user"] {
                push("node_cpu_guest_seconds_total", &[("cpu", &cpu), ("mode", mode)]);
            }
            for name in ["node_cpu_scaling_frequency_hertz", "node_cpu_frequency_max_hertz", "node_cpu_online"] {
                push(name, &[("cpu", &cpu)]);
            }
        }
        for d in 0..8u8 {
            let device = format!("nvme{d}n1");
            for m in 0..18 {
                push(&format!("node_disk_stat_{m}_total"), &[("device", &device)]);
            }
        }
        for d in 0..8 {
            let device = match d {
                0 => "lo".to_string(),
                1..=3 => format!("eth{d}"),
                _ => format!("veth{d:04x}"),
            };
            for m in 0..32 {
                push(&format!("node_network_stat_{m}_bytes_total"), &[("device", &device)]);
            }
        }
        for fs in 0..10 {
            let mountpoint = if fs == 0 { "/".to_string() } else { format!("/srv/volume{fs}") };
            let device = format!("/dev/nvme0n1p{fs}");
            for name in ["avail_bytes", "free_bytes", "size_bytes", "files", "files_free", "readonly", "device_error"] {
                let name = format!("node_filesystem_{name}");
                push(&name, &[("device", &device), ("fstype", "ext4"), ("mountpoint", &mountpoint)]);
            }
            push("node_filesystem_mount_info", &[("device", &device), ("fstype", "ext4"), ("mountpoint", &mountpoint)]);
        }
        for s in 0..10 {
            let sensor = format!("temp{s}");
            for m in 0..5 {
                push(&format!("node_hwmon_stat_{m}"), &[("chip", "platform_coretemp_0"), ("sensor", &sensor)]);
            }
        }
        for name in ["up", "node_load1", "node_load5", "node_load15"] {
            push(name, &[]);
        }
        for m in 0..258 {
            push(&format!("node_plain_metric_{m}"), &[]);
        }
    }
}

/// 10k series over two hours, scraped every 15 s with up to 15 s of phase per series, in four 120-sample
/// chunks each: the index stays small per series.
#[test]
fn index_bytes_per_series_for_a_node_exporter_block() {
    let mut all = Vec::new();
    node_exporter_series(10, |l| all.push(l));
    all.sort();
    assert_eq!(all.len(), 10_000);
    // Chunks for 16 scrape phases, shared by the series with that phase.
    let mut rng = Rng(12);
    let phases: Vec<Vec<ChunkData>> = (0..16)
        .map(|p| {
            let mut t = MIN_T + p * 937;
            (0..4)
                .map(|_| {
                    let c = chunk(&mut rng, t, 120);
                    t = c.max_t + 15_000;
                    c
                })
                .collect()
        })
        .collect();
    let mem = mem_backend();
    let mut writer = BlockWriter::create(Arc::new(mem.clone()), Path::new(BLOCK), params()).unwrap();
    for (i, labels) in all.iter().enumerate() {
        writer.add_series(labels, &phases[rng.below(16) as usize]).unwrap();
        let _ = i;
    }
    let meta = writer.finish().unwrap();
    let index = mem.file_len(&file("index")).unwrap();
    let per_series = index as f64 / meta.stats.series as f64;
    println!(
        "index: {index} bytes for {} series, {per_series:.1} bytes/series; chunks: {} bytes",
        meta.stats.series,
        mem.file_len(&file("chunks")).unwrap()
    );
    // Labels about 10 bytes, each of the four chunk references about 11 (times, offset, timestamp column).
    assert!(per_series < 56.0, "{per_series:.1} index bytes per series");

    let block = open(&mem).unwrap();
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    let cpu =
        block.select(&[m(MatchOp::Equal, "__name__", "node_cpu_seconds_total"), m(MatchOp::Equal, "mode", "idle")]);
    assert_eq!(cpu.unwrap().len(), 160);
    assert_eq!(block.select(&[m(MatchOp::Regex, "instance", "host-00[0-4].*")]).unwrap().len(), 5000);
    assert_eq!(block.label_values("instance", &block.select(&[]).unwrap()).unwrap().len(), 10);
}

// Fault injection.

/// A `MemBackend` whose fsync number `left` (counting from 0, files and directories) fails.
#[derive(Debug)]
struct FailNthSync {
    inner: MemBackend,
    left: Arc<AtomicI64>,
}

fn tick(left: &AtomicI64) -> io::Result<()> {
    if left.fetch_sub(1, Ordering::SeqCst) == 0 {
        return Err(io::Error::other("injected fsync failure"));
    }
    Ok(())
}

#[derive(Debug)]
struct FailNthSyncFile {
    inner: Box<dyn WritableFile>,
    left: Arc<AtomicI64>,
}

impl WritableFile for FailNthSyncFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)
    }

    fn sync(&self) -> io::Result<()> {
        tick(&self.left)?;
        self.inner.sync()
    }
}

impl Backend for FailNthSync {
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let inner = self.inner.create_new(path)?;
        Ok(Box::new(FailNthSyncFile { inner, left: Arc::clone(&self.left) }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let inner = self.inner.open_append(path)?;
        Ok(Box::new(FailNthSyncFile { inner, left: Arc::clone(&self.left) }))
    }

    fn read(&self, path: &Path, max_len: u64) -> io::Result<Vec<u8>> {
        self.inner.read(path, max_len)
    }

    fn map(&self, path: &Path) -> io::Result<Mapped> {
        self.inner.map(path)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        self.inner.file_len(path)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.inner.exists(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        self.inner.list_dir(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        tick(&self.left)?;
        self.inner.sync_dir(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_dir(path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.inner.truncate(path, len)
    }
}

/// A chunk of `values` at the given timestamps.
fn chunk_at(timestamps: &[i64], values: impl Iterator<Item = f64>) -> ChunkData {
    let mut a = ChunkAppender::new();
    for (&t, v) in timestamps.iter().zip(values) {
        a.append(t, v).unwrap();
    }
    ChunkData { min_t: a.min_time(), max_t: a.max_time(), bytes: a.bytes().to_vec() }
}

#[test]
fn series_with_the_same_timestamps_share_one_timestamp_column() {
    // Scrape timestamps with a few milliseconds of jitter, as one target's series all get them.
    let mut rng = Rng(7);
    let times: Vec<i64> = (0..240).map(|i| MIN_T + i * 10_000 + rng.below(5) as i64).collect();
    let other: Vec<i64> = times.iter().map(|t| t + 1).collect();
    let mem = mem_backend();
    let mut writer = BlockWriter::create(Arc::new(mem.clone()), Path::new(BLOCK), params()).unwrap();
    let mut written = Vec::new();
    for i in 0..50 {
        let labels = Labels::from_pairs([("__name__", "m"), ("i", &*format!("{i:02}"))]).unwrap();
        let ts = if i == 49 { &other } else { &times };
        let c = chunk_at(ts, (0..240).map(|k| f64::from(i * 1000 + k)));
        writer.add_series(&labels, std::slice::from_ref(&c)).unwrap();
        written.push((labels, vec![c]));
    }
    writer.finish().unwrap();
    let block = open(&mem).unwrap();
    assert_holds(&block, &written);
    let columns: BTreeSet<Option<u64>> = (0..50).map(|ord| block.series(ord).unwrap().1[0].timestamps).collect();
    assert_eq!(columns.len(), 2, "49 series share a column, the last has its own: {columns:?}");
    assert!(!columns.contains(&None));

    // A damaged column is reported for every series that uses it.
    let shared = block.series(0).unwrap().1[0];
    drop(block);
    mem.corrupt(&file("chunks"), |d| d[shared.timestamps.unwrap() as usize + 6] ^= 0x04).unwrap();
    let block = open(&mem).unwrap();
    for ord in [0, 17, 48] {
        let r = block.series(ord).unwrap().1[0];
        let err = block.decode(&r, i64::MIN, i64::MAX, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, BlockError::Corrupt { ref path, .. } if *path == file("chunks")), "{err}");
    }
    let r = block.series(49).unwrap().1[0];
    block.decode(&r, i64::MIN, i64::MAX, &mut Vec::new()).unwrap();
    assert!(block.verify().is_err());
}

#[test]
fn copied_series_keep_sharing_their_columns() {
    let times: Vec<i64> = (0..100).map(|i| MIN_T + i * 15_000 + i % 3).collect();
    let mem = mem_backend();
    let mut writer = BlockWriter::create(Arc::new(mem.clone()), Path::new(BLOCK), params()).unwrap();
    let mut written = Vec::new();
    for i in 0..10 {
        let labels = Labels::from_pairs([("__name__", "m"), ("i", &*i.to_string())]).unwrap();
        let c = chunk_at(&times, (0..100).map(|k| f64::from(k * i)));
        writer.add_series(&labels, std::slice::from_ref(&c)).unwrap();
        written.push((labels, vec![c]));
    }
    writer.finish().unwrap();
    let source = open(&mem).unwrap();

    let copy = "/db/blocks/b2";
    let mut writer = BlockWriter::create(Arc::new(mem.clone()), Path::new(copy), params()).unwrap();
    for ord in 0..source.num_series() {
        let (labels, refs) = source.series(ord).unwrap();
        writer.copy_series(&labels, &[(&source, &refs)]).unwrap();
    }
    writer.finish().unwrap();
    let copied = Block::open(Arc::new(mem.clone()), Path::new(copy)).unwrap();
    assert_holds(&copied, &written);
    let chunks = |dir: &str| mem.file_len(&Path::new(dir).join("chunks")).unwrap();
    assert_eq!(chunks(copy), chunks(BLOCK), "the copy stores the shared column once, as the source does");
}

#[test]
fn series_added_from_samples_read_back_the_same() {
    let mem = mem_backend();
    let mut writer = BlockWriter::create(Arc::new(mem.clone()), Path::new(BLOCK), params()).unwrap();
    let name = |i: u32| Labels::from_pairs([("__name__", "m"), ("i", &*i.to_string())]).unwrap();
    let long: Vec<(i64, u64)> = (0..300).map(|i| (MIN_T + i * 10_000 + i % 4, (i as f64 * 0.25).to_bits())).collect();
    let short: Vec<(i64, u64)> = long[..5].to_vec();
    writer.add_series_samples(&name(1), &long).unwrap();
    writer.add_series_samples(&name(2), &short).unwrap();
    // Refused input changes nothing.
    let backwards = [(MIN_T + 20, 0), (MIN_T + 10, 0)];
    assert!(matches!(writer.add_series_samples(&name(3), &backwards), Err(BlockError::InvalidInput(_))));
    let outside = [(MIN_T - 1, 0)];
    assert!(matches!(writer.add_series_samples(&name(3), &outside), Err(BlockError::InvalidInput(_))));
    writer.add_series_samples(&name(3), &long).unwrap();
    writer.finish().unwrap();

    let block = open(&mem).unwrap();
    block.verify().unwrap();
    for (ord, want) in [(0, &long), (1, &short), (2, &long)] {
        let (_, refs) = block.series(ord).unwrap();
        let mut got = Vec::new();
        for r in &refs {
            block.decode(r, i64::MIN, i64::MAX, &mut got).unwrap();
        }
        assert_eq!(&got, want, "series {ord}");
        assert_eq!(refs[0].timestamps.is_some(), want.len() >= 8, "series {ord}");
    }
    let column = |ord| block.series(ord).unwrap().1[0].timestamps;
    assert_eq!(column(0), column(2), "equal timestamps share a column");
}
