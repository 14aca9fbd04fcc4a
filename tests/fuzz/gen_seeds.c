/* gen_seeds.c - write valid synthetic heaps as fuzz seeds (the fuzzers
 * then mutate them).  Usage: gen_seeds DIR */
#include <stdio.h>
#include <string.h>

#include "synth.h"

/* mode bit 7: eight bytes of layout changes follow (fuzz_walk.c); the
 * seeds carry (field, +0) pairs, which change nothing. */
static void emit(const char *dir, const char *name, int layout, int mode,
		 struct synth *h)
{
	char path[4096];
	FILE *f;
	unsigned char hdr[2] = { (unsigned char)layout, (unsigned char)mode };
	static const unsigned char nochange[8] = { 14, 0, 15, 0, 12, 0, 13, 0 };

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(hdr, 1, 2, f);
	if (mode & 0x80)
		fwrite(nochange, 1, sizeof nochange, f);
	fwrite(h->buf, 1, h->used, f);
	fclose(f);
}

static void build(struct synth *h, const struct hw_offsets *o, uint64_t flag)
{
	uint64_t a, b, c;

	synth_init(h, o, 64 << 10);
	h->flag_next = flag;
	a = synth_type(h, "Marker", 1, "Outer.Marker", "app");
	b = synth_type(h, "X", 1, "\xc3\x89t\xc3\xa9", NULL);
	c = synth_type(h, "collections.OrderedDict", 0, NULL, NULL);
	for (int i = 0; i < 12; i++)
		synth_obj(h, a, i % 3);
	for (int i = 0; i < 5; i++)
		synth_obj(h, b, 2);
	for (int i = 0; i < 3; i++)
		synth_obj(h, c, h->heads[3] ? 3 : 1);
	synth_obj(h, h->dict_type, 0);
}

int main(int argc, char **argv)
{
	struct hw_offsets o;
	struct synth h;
	const char *dir = argc > 1 ? argv[1] : ".";

	synth_layout_311(&o);
	build(&h, &o, 0);
	emit(dir, "seed-311-live", 0, 0, &h);
	emit(dir, "seed-311-snap", 0, 3, &h);
	emit(dir, "seed-311-layout", 0, 0x80, &h);
	emit(dir, "seed-311-layout-snap", 0, 0x83, &h);
	synth_fini(&h);
	synth_layout_3140(&o);
	build(&h, &o, 1);
	emit(dir, "seed-3140-live", 1, 0, &h);
	synth_fini(&h);
	synth_layout_27(&o);
	build(&h, &o, 0);
	emit(dir, "seed-27-live", 2, 0, &h);
	emit(dir, "seed-27-layout", 2, 0x80, &h);
	synth_fini(&h);
	return 0;
}
