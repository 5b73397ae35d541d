/* Room for the attempts of a request a unit test builds by hand (the
 * joiner's while it hands a request over): each request gets its own,
 * the oldest reused after 16. */
#ifndef GS_TEST_ATTEMPTS_ROOM_H
#define GS_TEST_ATTEMPTS_ROOM_H

#include <string.h>
#include "join.h"

static struct attempt *attempts_room(void)
{
	static struct attempt room[16][REQ_ATTEMPTS];
	static unsigned next;
	struct attempt *a = room[next++ % 16];

	memset(a, 0, sizeof(room[0]));
	return a;
}

#endif
