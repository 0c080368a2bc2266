/*
 * Proleptic Gregorian calendar arithmetic on 64-bit day and second counts,
 * shared by the cron search and the time zone rules; not for use outside
 * engine/sched. Days count from 1970-01-01 (day 0, a Thursday). Callers keep
 * years within CIVIL_YEAR_MIN..CIVIL_YEAR_MAX, so nothing here overflows.
 */
#ifndef M2T_SCHED_CIVIL_H
#define M2T_SCHED_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

#define CIVIL_YEAR_MIN 1
#define CIVIL_YEAR_MAX 9999
/* 0001-01-01T00:00:00 and 9999-12-31T23:59:59 as seconds since 1970 */
#define CIVIL_SECONDS_MIN (-62135596800LL)
#define CIVIL_SECONDS_MAX 253402300799LL

struct civil_time {
	int64_t year;
	unsigned month;   /* 1..12 */
	unsigned day;     /* 1..31 */
	unsigned hour;    /* 0..23 */
	unsigned minute;  /* 0..59 */
	unsigned second;  /* 0..59 */
	unsigned weekday; /* 0 = Sunday .. 6 */
};

/* Floor division and modulo for a negative a (b > 0). */
int64_t civil_floor_div(int64_t a, int64_t b);
int64_t civil_floor_mod(int64_t a, int64_t b);

bool civil_is_leap(int64_t year);
unsigned civil_month_days(int64_t year, unsigned month);
/* Days since 1970-01-01 of year-month-day (month 1..12, day 1..31). */
int64_t civil_days(int64_t year, unsigned month, unsigned day);
/* 0 = Sunday for a day count from civil_days(). */
unsigned civil_weekday(int64_t days);
/* Seconds since 1970 (no leap seconds) into the calendar, and back. */
void civil_from_seconds(int64_t secs, struct civil_time *ct);
int64_t civil_to_seconds(int64_t year, unsigned month, unsigned day, unsigned hour,
			 unsigned minute, unsigned second);

#endif
