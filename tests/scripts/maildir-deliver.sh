#!/bin/sh
# maildir-deliver.sh MAILDIR FILE...
#
# Delivers each FILE into MAILDIR/new the way an MDA does: written under tmp/,
# flushed, then renamed into new/, with a unique name of the form
# "<seconds>.M<microseconds>P<pid>Q<seq>.<host>,S=<size>,W=<virtual size>".
# Names sort in argument order, so the server gives UIDs in that order.
# Files get the owner of MAILDIR (the server's mail user).
#
# One process for all files (perl-base is always present on Debian), so
# thousands of mails take well under a second. Bytes are copied unchanged.
set -eu

if [ "$#" -lt 1 ]; then
	echo "usage: maildir-deliver.sh MAILDIR FILE..." >&2
	exit 2
fi
maildir=$1
shift
[ "$#" -gt 0 ] || exit 0

exec perl -e '
use strict;
use warnings;
use Time::HiRes qw(gettimeofday);

my $md = shift @ARGV;
for my $sub ("tmp", "new", "cur") {
	-d "$md/$sub" or die "maildir-deliver: $md/$sub: not a maildir\n";
}
my ($uid, $gid) = (stat "$md")[4, 5];
my $chown = ($> == 0);
my $host = `uname -n`;
chomp $host;
$host =~ s{[/:]}{_}g;
$host = "localhost" if $host eq "";
my ($sec, $usec) = gettimeofday();
my $seq = 0;
for my $src (@ARGV) {
	open(my $in, "<:raw", $src) or die "maildir-deliver: $src: $!\n";
	local $/;
	my $data = <$in>;
	close $in;
	$data = "" unless defined $data;
	$seq++;
	# Names must sort in delivery order: advance a fake microsecond clock.
	my $u = $usec + $seq;
	my $s = $sec + int($u / 1000000);
	$u %= 1000000;
	my $size = length $data;
	my $bare_lf = () = $data =~ /(?<!\r)\n/g;
	my $vsize = $size + $bare_lf;
	my $base = sprintf("%d.M%06dP%dQ%d.%s", $s, $u, $$, $seq, $host);
	my $tmp = "$md/tmp/$base";
	open(my $out, ">:raw", $tmp) or die "maildir-deliver: $tmp: $!\n";
	print $out $data or die "maildir-deliver: $tmp: $!\n";
	close $out or die "maildir-deliver: $tmp: $!\n";
	if ($chown) {
		chown $uid, $gid, $tmp or die "maildir-deliver: chown $tmp: $!\n";
	}
	chmod 0600, $tmp;
	rename $tmp, "$md/new/$base,S=$size,W=$vsize"
		or die "maildir-deliver: rename $tmp: $!\n";
}
' "$maildir" "$@"
