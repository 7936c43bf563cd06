// JavaJob.java [RECORDS] [PASSES]: a Java job for `uswap run` (issue 11's real programs).
//
// Run with a fixed heap on every side, so a memory cgroup does not size it:
//   java -Xmx512m -Xms64m -XX:-UseContainerSupport -XX:+UseSerialGC JavaJob.java
// Builds RECORDS records (objects with a String, a byte[] and a long[]: the JVM heap, which the
// JVM reserves PROT_NONE and commits with MAP_FIXED), then PASSES times: updates every record
// and digests them in order. Deterministic: the output depends only on the arguments. Unmanaged
// peak at the defaults: about 340 MiB of anonymous memory.
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;

public class JavaJob {
    static final class Rec {
        String name;
        byte[] blob;
        long[] counters;
    }

    static long lcg(long x) { return x * 6364136223846793005L + 1442695040888963407L; }

    public static void main(String[] args) throws Exception {
        int records = args.length > 0 ? Integer.parseInt(args[0]) : 400000;
        int passes = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        ArrayList<Rec> recs = new ArrayList<>(records);
        long x = 12345;
        for (int i = 0; i < records; i++) {
            x = lcg(x);
            Rec r = new Rec();
            r.name = "record-" + i + "-" + Long.toHexString(x >>> 16);
            int n = 160 + (int) ((x >>> 33) % 256);
            r.blob = new byte[n];
            for (int j = 0; j < n; j++) r.blob[j] = (byte) ('a' + ((x >>> (j % 48)) + j / 7) % 26);
            r.counters = new long[8];
            for (int j = 0; j < 8; j++) r.counters[j] = (x >>> j) & 0xFFFF;
            recs.add(r);
        }
        System.out.println("built " + recs.size() + " records");
        for (int p = 0; p < passes; p++) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            long sum = 0;
            for (Rec r : recs) {
                x = lcg(x);
                int k = (int) ((x >>> 40) % r.blob.length);
                r.blob[k] = (byte) ('A' + (x >>> 8) % 26);
                r.counters[(int) ((x >>> 20) & 7)] += x & 0xFF;
                if ((x & 15) == 0) r.name = r.name.substring(1) + r.name.charAt(0);
                md.update(r.name.getBytes());
                md.update(r.blob);
                for (long c : r.counters) sum += c;
            }
            System.out.println("pass " + p + ": sum " + sum + ", digest " + HexFormat.of().formatHex(md.digest()).substring(0, 32));
        }
    }
}
