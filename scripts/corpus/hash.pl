#!/usr/bin/perl
# A Perl interpreter holding a hash of records (hashes and arrays of numbers and strings), for
# scripts/make-corpus.sh. Deterministic contents: perl hash.pl ENTRIES SEED.
# Prints "ready" once the hash is built, then sleeps until it is killed.
use strict;
use warnings;

my ($entries, $seed) = (@ARGV, 200000, 1)[0, 1];
srand($seed);
my @alphabet = ('a'..'z', 'A'..'Z', '0'..'9');
my @cities = qw(Lisbon Oslo Quito Hanoi Lagos Perth Lima Riga Dakar Tunis);
my %records;
for my $i (1 .. $entries) {
    my $name = join '', map { $alphabet[int rand @alphabet] } 1 .. (8 + int rand 28);
    $records{sprintf "id%08x", int rand 0xFFFFFFFF} = {
        name    => $name,
        city    => $cities[int rand @cities],
        balance => sprintf("%.2f", rand 100000),
        score   => rand(),
        visits  => [map { int rand 1000 } 1 .. (1 + int rand 6)],
        serial  => $i,
        digest  => pack('N*', map { int rand 4294967296 } 1 .. (4 + int rand 10)),
    };
}
$| = 1;
print "ready ", scalar(keys %records), "\n";
sleep 3600;
