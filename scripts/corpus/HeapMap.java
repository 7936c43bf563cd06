// A JVM holding a HashMap of small objects (records with numbers, short strings and arrays),
// for scripts/make-corpus.sh. Deterministic contents: java HeapMap.java ENTRIES SEED.
// Prints "ready" once the map is built, then sleeps until it is killed.
import java.util.HashMap;
import java.util.Random;

public class HeapMap {
    record Entry(long id, double score, String name, String tag, int[] counts, byte[] token, Entry parent) {}

    public static void main(String[] args) throws Exception {
        int entries = args.length > 0 ? Integer.parseInt(args[0]) : 300000;
        Random random = new Random(args.length > 1 ? Long.parseLong(args[1]) : 1);
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        String[] tags = {"user", "order", "session", "item", "invoice", "cart", "event"};
        HashMap<String, Entry> map = new HashMap<>();
        Entry previous = null;
        for (int i = 0; i < entries; i++) {
            StringBuilder name = new StringBuilder();
            int length = 6 + random.nextInt(20);
            for (int k = 0; k < length; k++) name.append(alphabet.charAt(random.nextInt(alphabet.length())));
            int[] counts = new int[1 + random.nextInt(8)];
            for (int k = 0; k < counts.length; k++) counts[k] = random.nextInt(1 << (4 * (k % 7)));
            byte[] token = new byte[24 + random.nextInt(48)];  // a session token: does not compress
            random.nextBytes(token);
            Entry e = new Entry(i * 7919L, random.nextGaussian() * 1000, name.toString(),
                                tags[random.nextInt(tags.length)] + "-" + random.nextInt(5000), counts, token,
                                random.nextInt(4) == 0 ? previous : null);
            map.put("key:" + Long.toHexString(random.nextLong()), e);
            previous = e;
        }
        System.out.println("ready " + map.size());
        System.out.flush();
        Thread.sleep(3_600_000L);
    }
}
