#!/usr/bin/perl
# Grades `mail2ticket preprocess --json` output against a quote-stripping
# corpus laid out as its README describes: cases.jsonl per folder, each case
# with input, expected (or must_contain / must_not_contain) and a `match`
# mode. Prints pass %, cases with lost sender text, cases with leaked quote
# lines, and the pipeline's µs per mail.
#
#   quotes-grade.pl CORPUS_DIR RESULTS.jsonl CASES.tsv [-v]
#
# CASES.tsv: "id<TAB>folder<TAB>input path" in the order the results were
# produced. Lost: a line of the expected text (or a must_contain) missing
# from the output. Leaked: a line in the output the expected text does not
# have (or a must_not_contain present).
use strict;
use warnings;
use JSON::PP;
use Encode qw(decode encode);

my ($corpus, $results, $cases_tsv, $verbose) = @ARGV;
die "usage: quotes-grade.pl CORPUS RESULTS CASES [-v]\n" unless $cases_tsv;
my $perf_limit_us = 20000;

sub slurp {
	my ($p) = @_;
	open(my $f, '<:raw', $p) or die "cannot open $p: $!\n";
	local $/;
	my $s = <$f>;
	close $f;
	return decode('UTF-8', $s);
}

# CRLF to LF, trailing spaces off each line, runs of blank lines to one,
# leading and trailing blank lines off.
sub norm {
	my ($s) = @_;
	$s =~ s/\r\n?/\n/g;
	my @out;
	my $blank = 0;
	for my $l (split /\n/, $s, -1) {
		$l =~ s/[ \t]+$//;
		if ($l eq '') {
			next if $blank;
			$blank = 1;
		} else {
			$blank = 0;
		}
		push @out, $l;
	}
	shift @out while @out && $out[0] eq '';
	pop @out while @out && $out[-1] eq '';
	return join("\n", @out);
}

# "/re/flags" or a plain substring
sub check {
	my ($text, $pat) = @_;
	if ($pat =~ m{^/(.*)/([imsx]*)$}s) {
		my ($re, $fl) = ($1, $2);
		my $qr = eval { $fl ? qr/(?$fl)$re/ : qr/$re/ };
		die "bad regex $pat: $@" unless $qr;
		return $text =~ $qr ? 1 : 0;
	}
	return index($text, $pat) >= 0 ? 1 : 0;
}

sub line_counts {
	my %c;
	$c{$_}++ for grep { $_ ne '' } split /\n/, $_[0];
	return \%c;
}

my %case;
for my $dir (glob("$corpus/*/")) {
	my $file = "$dir/cases.jsonl";
	next unless -f $file;
	open(my $f, '<:raw', $file) or die;
	while (my $l = <$f>) {
		next unless $l =~ /\S/;
		my $c = JSON::PP->new->utf8->decode($l);
		(my $folder = $dir) =~ s{/+$}{};
		$c->{folder} = $folder;
		$case{$c->{id}} = $c;
	}
	close $f;
}

open(my $tsv, '<', $cases_tsv) or die;
my @order = map { chomp; (split /\t/)[0] } <$tsv>;
close $tsv;
open(my $rf, '<:raw', $results) or die;
my @res = map { JSON::PP->new->utf8->decode($_) } grep { /\S/ } <$rf>;
close $rf;
die "got " . scalar(@res) . " results for " . scalar(@order) . " cases\n" if @res != @order;

my ($n, $pass, $lost, $leaked, $errors, $us_total, $us_n) = (0) x 7;
my @perf;
for my $i (0 .. $#order) {
	my $c = $case{$order[$i]} or die "unknown case $order[$i]\n";
	my $r = $res[$i];
	$n++;
	my ($ok, $is_lost, $is_leak) = (0, 0, 0);
	my $why = '';
	if (defined $r->{error}) {
		$errors++;
		$why = "error: $r->{error}";
	} else {
		$us_total += $r->{elapsed_us};
		$us_n++;
		my $out = norm($r->{text});
		my $m = $c->{match};
		if ($m eq 'exact_strip' || $m eq 'first_fragment_strip') {
			my $exp = norm(slurp("$c->{folder}/$c->{expected}"));
			$ok = $out eq $exp;
			my ($o, $e) = (line_counts($out), line_counts($exp));
			for my $l (keys %$e) {
				$is_lost = 1 if ($o->{$l} // 0) < $e->{$l};
			}
			for my $l (keys %$o) {
				$is_leak = 1 if ($e->{$l} // 0) < $o->{$l};
			}
		} elsif ($m eq 'regex_checks' || $m eq 'substring_checks') {
			for my $p (@{$c->{must_contain} // []}) {
				$is_lost = 1 unless check($out, $p);
			}
			for my $p (@{$c->{must_not_contain} // []}) {
				$is_leak = 1 if check($out, $p);
			}
			$ok = !$is_lost && !$is_leak;
		} elsif ($m eq 'perf_only') {
			$ok = $r->{elapsed_us} < $perf_limit_us;
			push @perf, sprintf("%s %.2f ms", $c->{id}, $r->{elapsed_us} / 1000);
			$why = "slow" unless $ok;
		} else {
			die "unknown match mode $m in $c->{id}\n";
		}
		$why ||= join(' ', ($is_lost ? 'LOST' : ()), ($is_leak ? 'leaked' : ()));
	}
	$pass++ if $ok;
	$lost++ if $is_lost;
	$leaked++ if $is_leak;
	printf "  %-4s %s %s\n", $ok ? 'ok' : 'FAIL', $c->{id}, $ok ? '' : $why
		if $verbose || ($verbose // '') eq '' && 0;
	printf "  FAIL %s: %s\n", $c->{id}, $why if !$ok && !$verbose;
}
printf "cases:               %d\n", $n;
printf "pass:                %.1f%% (%d of %d)\n", 100 * $pass / ($n || 1), $pass, $n;
printf "lost sender text:    %d cases (%.1f%%)\n", $lost, 100 * $lost / ($n || 1);
printf "leaked quote lines:  %d cases (%.1f%%)\n", $leaked, 100 * $leaked / ($n || 1);
printf "errors:              %d\n", $errors;
printf "pipeline µs per mail: %.1f (mean of %d, one run each)\n", $us_total / ($us_n || 1), $us_n;
print "perf cases (one run): ", join("; ", @perf), "\n" if @perf;
