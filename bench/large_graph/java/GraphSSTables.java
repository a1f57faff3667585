import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;

import org.apache.cassandra.config.DatabaseDescriptor;
import org.apache.cassandra.db.marshal.UUIDType;
import org.apache.cassandra.dht.Murmur3Partitioner;
import org.apache.cassandra.io.sstable.CQLSSTableWriter;

/**
 * The large-graph benchmark's bulk path: makes a follow graph and writes it as SSTables of
 * the graph service's tables (services/graph/migrations), with Cassandra's own
 * CQLSSTableWriter, for the node to load from its table directories (bench/large_graph/bulk.py).
 *
 * Per user a graph_profiles row; per follow (a follows b) four rows, as the Follow path
 * writes them: graph_following (a), graph_relations (a, b: following_since), graph_followers
 * (b), graph_relations (b, a: followed_by_since), with the same instant on both sides.
 *
 * Graphs: "reed98 FILE" (every friendship a follow both ways) or "powerlaw USERS EDGES"
 * (Pareto out-degrees, Zipf popularity over a random ranking of users). Both get
 * CELEBRITIES accounts (indexes 0..) followed by SHARE of the users outside a PLAIN cohort
 * (who follow none). Then the benchmark's own people: the authors whose in-degree is
 * closest to each LAG target, and READERS plain readers (in the cohort) and READERS merge
 * readers (following every celebrity), each of whom also follows every such author, so
 * their home feeds fill with those authors' posts.
 *
 * Writes OUT/<table>-<side>/ (SSTables) and OUT/manifest.json (what was made, and how fast).
 * Arguments: key=value (see parse()).
 */
public final class GraphSSTables {
    static final long DAY_MS = 86_400_000L;

    final Map<String, String> args;
    final String keyspace;
    final Path out;
    final Path schemas;
    final long seed;
    final long now = System.currentTimeMillis();
    int users;
    int celebrities;
    int[] offsets; // CSR: following[offsets[u] .. offsets[u + 1]) are those u follows
    int[] following;
    boolean[] plain;
    int[] lagAuthors;
    int[] plainReaders;
    int[] mergeReaders;
    final Map<String, Object> manifest = new HashMap<>();

    GraphSSTables(Map<String, String> args) {
        this.args = args;
        this.keyspace = args.get("keyspace");
        this.out = Path.of(args.get("out"));
        this.schemas = Path.of(args.get("schemas"));
        this.seed = Long.parseLong(args.getOrDefault("seed", "1"));
    }

    static Map<String, String> parse(String[] argv) {
        Map<String, String> m = new HashMap<>();
        for (String a : argv) {
            int eq = a.indexOf('=');
            m.put(a.substring(0, eq), a.substring(eq + 1));
        }
        return m;
    }

    /** The user id of index i: a version-4 UUID fixed by the seed (bulk.py computes the same). */
    UUID id(int i) {
        long msb = (0x5ca1e000L << 32) | ((seed & 0xffffL) << 16) | 0x4000L;
        long lsb = 0x8000000000000000L | i;
        return new UUID(msb, lsb);
    }

    /** When a follows b: the same instant on both sides, spread over the last 30 days. */
    Date since(int a, int b) {
        long spread = Math.floorMod(a * 7919L + b * 104729L, 30 * DAY_MS / 1000);
        return new Date(now - DAY_MS - spread * 1000);
    }

    // --- graphs -------------------------------------------------------------------------

    /** Each user's followees (sorted, unique, no self) into the CSR arrays. */
    void csr(int[][] lists) {
        offsets = new int[users + 1];
        long total = 0;
        for (int u = 0; u < users; u++) total += lists[u].length;
        if (total > Integer.MAX_VALUE) throw new IllegalArgumentException("too many edges");
        following = new int[(int) total];
        int at = 0;
        for (int u = 0; u < users; u++) {
            offsets[u] = at;
            System.arraycopy(lists[u], 0, following, at, lists[u].length);
            at += lists[u].length;
            lists[u] = null;
        }
        offsets[users] = at;
    }

    static int[] unique(int[] values, int n, int self) {
        Arrays.sort(values, 0, n);
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (values[i] != self && (k == 0 || values[k - 1] != values[i])) values[k++] = values[i];
        }
        return Arrays.copyOf(values, k);
    }

    /** Celebrity follows: users outside the plain cohort follow each with probability share. */
    int celebrityFollows(SplittableRandom rng, int u, double share, int[] into) {
        if (u < celebrities || plain[u]) return 0;
        int n = 0;
        for (int c = 0; c < celebrities; c++) if (rng.nextDouble() < share) into[n++] = c;
        return n;
    }

    void cohort(SplittableRandom rng, double plainShare) {
        plain = new boolean[users];
        for (int u = celebrities; u < users; u++) plain[u] = rng.nextDouble() < plainShare;
    }

    void reed98(Path file, double share, double plainShare) throws IOException {
        SplittableRandom rng = new SplittableRandom(seed);
        List<int[]> pairs = new ArrayList<>();
        int max = 0;
        for (String line : Files.readAllLines(file)) {
            line = line.strip();
            if (line.isEmpty() || line.startsWith("%")) continue;
            String[] p = line.split("\\s+");
            int a = Integer.parseInt(p[0]), b = Integer.parseInt(p[1]);
            pairs.add(new int[] {a, b});
            max = Math.max(max, Math.max(a, b));
        }
        users = max + 1 + celebrities; // celebrities first, then the file's nodes
        cohort(rng, plainShare);
        int[] degree = new int[users];
        for (int[] p : pairs) { degree[p[0] + celebrities]++; degree[p[1] + celebrities]++; }
        int[][] lists = new int[users][];
        int[] fill = new int[users];
        for (int u = 0; u < users; u++) lists[u] = new int[degree[u] + celebrities];
        for (int u = 0; u < users; u++) fill[u] = celebrityFollows(rng, u, share, lists[u]);
        for (int[] p : pairs) {
            int a = p[0] + celebrities, b = p[1] + celebrities;
            lists[a][fill[a]++] = b;
            lists[b][fill[b]++] = a;
        }
        for (int u = 0; u < users; u++) lists[u] = unique(lists[u], fill[u], u);
        csr(lists);
    }

    void powerLaw(int n, long edges, double share, double plainShare, double zipf,
                  double pareto, int cap) {
        SplittableRandom rng = new SplittableRandom(seed);
        users = n;
        cohort(rng, plainShare);
        long celebEdges = 0;
        for (int u = celebrities; u < users; u++) if (!plain[u]) celebEdges++;
        celebEdges = (long) (celebEdges * share * celebrities);
        long rest = Math.max(0, edges - celebEdges);
        // popularity: Zipf over a random ranking of the other users
        int others = users - celebrities;
        int[] ranked = new int[others];
        for (int i = 0; i < others; i++) ranked[i] = celebrities + i;
        for (int i = others - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = ranked[i]; ranked[i] = ranked[j]; ranked[j] = t;
        }
        double[] cumulative = new double[others];
        double total = 0;
        for (int r = 0; r < others; r++) cumulative[r] = total += Math.pow(r + 1, -zipf);
        // out-degrees: Pareto, scaled to the mean the edge count asks for, capped
        double[] raw = new double[users];
        double sum = 0;
        for (int u = 0; u < users; u++) sum += raw[u] = Math.pow(1 - rng.nextDouble(), -1 / pareto);
        double scale = rest / sum;
        int[][] lists = new int[users][];
        int[] buffer = new int[cap + celebrities + 8];
        for (int u = 0; u < users; u++) {
            int want = (int) Math.min(cap, raw[u] * scale + rng.nextDouble());
            int k = celebrityFollows(rng, u, share, buffer);
            for (int i = 0; i < want; i++) {
                int r = Arrays.binarySearch(cumulative, rng.nextDouble() * total);
                buffer[k++] = ranked[Math.min(others - 1, r < 0 ? -r - 1 : r)];
            }
            lists[u] = unique(buffer, k, u);
        }
        csr(lists);
    }

    int[] inDegree() {
        int[] degree = new int[users];
        for (int f : following) degree[f]++;
        return degree;
    }

    // --- the benchmark's people -----------------------------------------------------------

    void choosePeople(int[] lagTargets, int readers) {
        int[] degree = inDegree();
        lagAuthors = new int[lagTargets.length];
        for (int t = 0; t < lagTargets.length; t++) {
            int best = -1;
            for (int u = celebrities; u < users; u++) {
                if (degree[u] == 0 || contains(lagAuthors, t, u)) continue;
                if (best < 0 || Math.abs(degree[u] - lagTargets[t]) < Math.abs(degree[best] - lagTargets[t])) best = u;
            }
            lagAuthors[t] = best;
        }
        List<Integer> plainOnes = new ArrayList<>(), mergeOnes = new ArrayList<>();
        for (int u = celebrities; u < users && (plainOnes.size() < readers || mergeOnes.size() < readers); u++) {
            if (contains(lagAuthors, lagAuthors.length, u) || offsets[u + 1] - offsets[u] < 3) continue;
            int celebs = 0;
            for (int i = offsets[u]; i < offsets[u + 1] && following[i] < celebrities; i++) celebs++;
            if (celebs == 0 && plainOnes.size() < readers) plainOnes.add(u);
            else if (celebs == celebrities && mergeOnes.size() < readers) mergeOnes.add(u);
        }
        plainReaders = plainOnes.stream().mapToInt(Integer::intValue).toArray();
        mergeReaders = mergeOnes.stream().mapToInt(Integer::intValue).toArray();
        // every reader follows every lag author
        int[] readersAll = concat(plainReaders, mergeReaders);
        int[][] extra = new int[users][];
        long added = 0;
        for (int r : readersAll) {
            int[] now = Arrays.copyOfRange(following, offsets[r], offsets[r + 1]);
            int[] more = Arrays.copyOf(now, now.length + lagAuthors.length);
            System.arraycopy(lagAuthors, 0, more, now.length, lagAuthors.length);
            extra[r] = unique(more, more.length, r);
            added += extra[r].length - now.length;
        }
        int[] newOffsets = new int[users + 1];
        int[] newFollowing = new int[(int) (following.length + added)];
        int at = 0;
        for (int u = 0; u < users; u++) {
            newOffsets[u] = at;
            if (extra[u] != null) {
                System.arraycopy(extra[u], 0, newFollowing, at, extra[u].length);
                at += extra[u].length;
            } else {
                int len = offsets[u + 1] - offsets[u];
                System.arraycopy(following, offsets[u], newFollowing, at, len);
                at += len;
            }
        }
        newOffsets[users] = at;
        offsets = newOffsets;
        following = newFollowing;
        manifest.put("reader_follows_added", added);
    }

    static boolean contains(int[] values, int n, int v) {
        for (int i = 0; i < n; i++) if (values[i] == v) return true;
        return false;
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    // --- SSTables ---------------------------------------------------------------------------

    CQLSSTableWriter writer(String table, String side, String insert) throws IOException {
        Path dir = out.resolve(table + "-" + side);
        Files.createDirectories(dir);
        String schema = Files.readString(schemas.resolve(table + ".cql"));
        return CQLSSTableWriter.builder()
            .inDirectory(dir.toString())
            .forTable(schema)
            .using(insert.replace("TABLE", keyspace + "." + table))
            .sorted()
            .withMaxSSTableSizeInMiB(Integer.parseInt(args.getOrDefault("sstable_mib", "1024")))
            .build();
    }

    /**
     * Users in the order of their partitions' tokens (Murmur3, as the node places them): a
     * sorted writer takes partitions in that order and holds one at a time, where an
     * unsorted one buffers (and, with partitions of a million rows, thrashes its heap).
     */
    int[] tokenOrder() {
        long[] tokens = new long[users];
        for (int u = 0; u < users; u++)
            tokens[u] = Murmur3Partitioner.instance.getToken(UUIDType.instance.decompose(id(u))).token;
        Integer[] order = new Integer[users];
        for (int u = 0; u < users; u++) order[u] = u;
        Arrays.sort(order, (a, b) -> Long.compare(tokens[a], tokens[b]));
        int[] out = new int[users];
        for (int i = 0; i < users; i++) out[i] = order[i];
        return out;
    }

    /** Followers of each user (the inverse CSR), by counting sort. */
    int[][] followersIndex() {
        int[] starts = new int[users + 1];
        for (int f : following) starts[f + 1]++;
        for (int u = 0; u < users; u++) starts[u + 1] += starts[u];
        int[] fill = Arrays.copyOf(starts, users);
        int[] sources = new int[following.length];
        for (int u = 0; u < users; u++)
            for (int i = offsets[u]; i < offsets[u + 1]; i++) sources[fill[following[i]]++] = u;
        return new int[][] {starts, sources};
    }

    int[] order;

    long writeOutSide() throws IOException {
        String prefix = args.getOrDefault("prefix", "lg");
        long rows = 0;
        try (CQLSSTableWriter profiles = writer("graph_profiles", "all",
                "INSERT INTO TABLE (user_id, username, display_name, bio, avatar_media_id, private, "
                + "version, changed_paths, created_at) VALUES (?, ?, ?, '', '', false, 1, ?, ?)");
             CQLSSTableWriter follows = writer("graph_following", "all",
                "INSERT INTO TABLE (user_id, followed_at, followee_id) VALUES (?, ?, ?)");
             CQLSSTableWriter relations = writer("graph_relations", "out",
                "INSERT INTO TABLE (user_id, other_id, following_since) VALUES (?, ?, ?)")) {
            List<String> none = Collections.emptyList();
            for (int u : order) {
                UUID me = id(u);
                profiles.addRow(me, prefix + u, prefix + " " + u, none, new Date(now - 60 * DAY_MS));
                rows++;
                for (int i = offsets[u]; i < offsets[u + 1]; i++) {
                    int v = following[i];
                    Date at = since(u, v);
                    UUID other = id(v);
                    follows.addRow(me, at, other);
                    relations.addRow(me, other, at);
                    rows += 2;
                }
            }
        }
        return rows;
    }

    long writeInSide() throws IOException {
        int[][] index = followersIndex();
        int[] starts = index[0], sources = index[1];
        long rows = 0;
        try (CQLSSTableWriter followers = writer("graph_followers", "all",
                "INSERT INTO TABLE (user_id, followed_at, follower_id) VALUES (?, ?, ?)");
             CQLSSTableWriter relations = writer("graph_relations", "in",
                "INSERT INTO TABLE (user_id, other_id, followed_by_since) VALUES (?, ?, ?)")) {
            for (int v : order) {
                UUID me = id(v);
                for (int i = starts[v]; i < starts[v + 1]; i++) {
                    int u = sources[i];
                    Date at = since(u, v);
                    UUID other = id(u);
                    followers.addRow(me, at, other);
                    relations.addRow(me, other, at);
                    rows += 2;
                }
            }
        }
        return rows;
    }

    // --- the manifest ----------------------------------------------------------------------

    static String json(Object o) {
        if (o == null) return "null";
        if (o instanceof String s) return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        if (o instanceof Number || o instanceof Boolean) return o.toString();
        if (o instanceof int[] a) {
            StringBuilder b = new StringBuilder("[");
            for (int i = 0; i < a.length; i++) b.append(i > 0 ? ", " : "").append(a[i]);
            return b.append("]").toString();
        }
        if (o instanceof List<?> l) {
            StringBuilder b = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) b.append(i > 0 ? ", " : "").append(json(l.get(i)));
            return b.append("]").toString();
        }
        if (o instanceof Map<?, ?> m) {
            StringBuilder b = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                b.append(first ? "" : ", ").append(json(e.getKey().toString())).append(": ")
                 .append(json(e.getValue()));
                first = false;
            }
            return b.append("}").toString();
        }
        throw new IllegalArgumentException("no JSON for " + o.getClass());
    }

    /** Users by log2 bucket of a degree: bucket k holds degrees in [2^k, 2^(k+1)), -1 zero. */
    static Map<String, Object> histogram(int[] degree) {
        Map<String, Object> h = new java.util.TreeMap<>();
        for (int d : degree) {
            String k = d == 0 ? "0" : String.valueOf(1 << (31 - Integer.numberOfLeadingZeros(d)));
            h.merge(k, 1, (a, b) -> (Integer) a + (Integer) b);
        }
        return h;
    }

    void run() throws Exception {
        long t0 = System.nanoTime();
        celebrities = Integer.parseInt(args.getOrDefault("celebrities", "3"));
        double share = Double.parseDouble(args.getOrDefault("share", "1.0"));
        double plainShare = Double.parseDouble(args.getOrDefault("plain", "0.02"));
        if (args.get("graph").equals("reed98")) {
            reed98(Path.of(args.get("edges_file")), share, plainShare);
        } else {
            powerLaw(Integer.parseInt(args.get("users")), Long.parseLong(args.get("edges")),
                     share, plainShare, Double.parseDouble(args.getOrDefault("zipf", "0.9")),
                     Double.parseDouble(args.getOrDefault("pareto", "1.8")),
                     Integer.parseInt(args.getOrDefault("cap", "5000")));
        }
        int[] targets = Arrays.stream(args.getOrDefault("lag", "30,100,300").split(","))
            .mapToInt(Integer::parseInt).toArray();
        choosePeople(targets, Integer.parseInt(args.getOrDefault("readers", "20")));
        double generated = (System.nanoTime() - t0) / 1e9;
        System.out.printf("graph: %,d users, %,d follows, made in %.1f s%n", users,
                          following.length, generated);
        System.out.flush();

        long t1 = System.nanoTime();
        order = tokenOrder();
        long[] rows = new long[2];
        Exception[] failed = new Exception[1];
        Thread in = new Thread(() -> {
            try { rows[1] = writeInSide(); } catch (Exception e) { failed[0] = e; }
        });
        in.start();
        rows[0] = writeOutSide();
        in.join();
        if (failed[0] != null) throw failed[0];
        double written = (System.nanoTime() - t1) / 1e9;
        long total = rows[0] + rows[1];
        System.out.printf("sstables: %,d rows in %.1f s (%,.0f rows/s)%n", total, written,
                          total / written);

        int[] degree = inDegree();
        int[] outDegree = new int[users];
        for (int u = 0; u < users; u++) outDegree[u] = offsets[u + 1] - offsets[u];
        List<Object> stars = new ArrayList<>();
        for (int c = 0; c < celebrities; c++) stars.add(Map.of("index", c, "followers", degree[c]));
        List<Object> authors = new ArrayList<>();
        for (int a : lagAuthors) authors.add(Map.of("index", a, "followers", degree[a]));
        int maxOther = 0;
        for (int u = celebrities; u < users; u++) maxOther = Math.max(maxOther, degree[u]);
        manifest.put("graph", args.get("graph"));
        manifest.put("users", users);
        manifest.put("follows", following.length);
        manifest.put("seed", seed);
        manifest.put("prefix", args.getOrDefault("prefix", "lg"));
        manifest.put("celebrities", stars);
        manifest.put("lag_authors", authors);
        manifest.put("plain_readers", plainReaders);
        manifest.put("merge_readers", mergeReaders);
        manifest.put("max_non_celebrity_followers", maxOther);
        manifest.put("in_degree_histogram", histogram(degree));
        manifest.put("out_degree_histogram", histogram(outDegree));
        manifest.put("generate_seconds", generated);
        manifest.put("rows", total);
        manifest.put("write_seconds", written);
        manifest.put("rows_per_s", total / written);
        Files.writeString(out.resolve("manifest.json"), json(manifest) + "\n");
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parse(argv);
        // SSTables in the version the node writes: a node in storage compatibility mode
        // CASSANDRA_4 (5.0's default) refuses to start on newer ones ("oa"), and a client
        // initialisation always writes the newest. So: a tool's, from the node's own yaml.
        System.setProperty("cassandra.config", args.get("node_config"));
        DatabaseDescriptor.toolInitialization();
        new GraphSSTables(args).run();
        System.exit(0);
    }
}
