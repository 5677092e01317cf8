#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
#
# Builds the GeoIP test database: a small City-style MaxMind DB with
# country.iso_code, country.names.en, subdivisions[0].iso_code and
# subdivisions[0].names.en for exactly the networks in ranges.tsv (the
# ranges `churnd gen` draws public IPs from). Nothing is downloaded.
#
# usage: mkdb.pl RANGES.tsv OUT.mmdb
use strict;
use warnings;

use MaxMind::DB::Writer::Tree;

die "usage: $0 RANGES.tsv OUT.mmdb\n" unless @ARGV == 2;
my ( $ranges, $out ) = @ARGV;

my %types = (
    country      => 'map',
    subdivisions => [ 'array', 'map' ],
    iso_code     => 'utf8_string',
    names        => 'map',
    en           => 'utf8_string',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version    => 6,
    record_size   => 24,
    database_type => 'churnd-Test-City',
    languages     => ['en'],
    description   => { en => 'churnd test data: synthetic ranges, not real' },
    map_key_type_callback => sub { $types{ $_[0] } },

    # 198.18.0.0/15 and 2001:db8::/32 are reserved blocks, chosen so that
    # no real address is mapped; the writer must be allowed to store them.
    remove_reserved_networks => 0,
);

open my $in, '<', $ranges or die "$ranges: $!\n";
my $n = 0;
while ( my $line = <$in> ) {
    chomp $line;
    next if $line =~ /^\s*(#|$)/;
    my ( $net, $cc, $cname, $sub, $sname ) = split /\t/, $line;
    die "$ranges:$.: want 5 tab-separated fields\n" unless defined $sname;
    $tree->insert_network(
        $net,
        {
            country      => { iso_code => $cc, names => { en => $cname } },
            subdivisions => [ { iso_code => $sub, names => { en => $sname } } ],
        },
    );
    $n++;
}
close $in;
die "$ranges: no networks\n" unless $n;

open my $fh, '>:raw', "$out.tmp" or die "$out.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "$out.tmp: $!\n";
rename "$out.tmp", $out or die "$out: $!\n";
