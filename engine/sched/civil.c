/*
 * Calendar arithmetic after Howard Hinnant's "chrono-compatible low-level
 * date algorithms": exact for every proleptic Gregorian date, with eras of
 * 400 years so that no loop depends on the distance between two dates.
 */
#include "engine/sched/civil.h"

int64_t civil_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t civil_floor_mod(int64_t a, int64_t b)
{
	return a - civil_floor_div(a, b) * b;
}

bool civil_is_leap(int64_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned civil_month_days(int64_t year, unsigned month)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (month == 2 && civil_is_leap(year))
		return 29;
	return month >= 1 && month <= 12 ? days[month - 1] : 0;
}

int64_t civil_days(int64_t year, unsigned month, unsigned day)
{
	/* the year starts in March, so the leap day is its last */
	int64_t y = month <= 2 ? year - 1 : year;
	int64_t era = civil_floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t mp = month > 2 ? (int64_t)month - 3 : (int64_t)month + 9;
	int64_t doy = (153 * mp + 2) / 5 + (int64_t)day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

unsigned civil_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday (4) */
	return (unsigned)civil_floor_mod(days + 4, 7);
}

void civil_from_seconds(int64_t secs, struct civil_time *ct)
{
	int64_t days = civil_floor_div(secs, 86400);
	int64_t rem = secs - days * 86400;
	int64_t z = days + 719468;
	int64_t era = civil_floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	ct->year = yoe + era * 400 + (m <= 2);
	ct->month = m;
	ct->day = d;
	ct->hour = (unsigned)(rem / 3600);
	ct->minute = (unsigned)(rem / 60 % 60);
	ct->second = (unsigned)(rem % 60);
	ct->weekday = civil_weekday(days);
}

int64_t civil_to_seconds(int64_t year, unsigned month, unsigned day, unsigned hour,
			 unsigned minute, unsigned second)
{
	return civil_days(year, month, day) * 86400 + (int64_t)hour * 3600 +
	       (int64_t)minute * 60 + (int64_t)second;
}
