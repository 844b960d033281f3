// Checkpoints: bitwise round trips, the file as any safetensors reader sees it, and the
// loader's refusal (with a message, and the model untouched) of every kind of bad file.
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <jansson.h>
#include <xxhash.h>

extern "C" {
#include "format/checkpoint.h"
#include "format/save_file.h"
#include "model/model.h"
#include "data/tokenizer.h"
}
#include "test_util.h"

namespace {

typedef std::vector<unsigned char> Bytes;

Bytes read_file(const std::string &path)
{
    Bytes b;
    FILE *f = fopen(path.c_str(), "rb");
    if (!f)
        return b;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        b.insert(b.end(), buf, buf + n);
    fclose(f);
    return b;
}

void write_file(const std::string &path, const Bytes &b)
{
    FILE *f = fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr) << path;
    if (!b.empty()) {
        ASSERT_EQ(fwrite(b.data(), 1, b.size(), f), b.size());
    }
    ASSERT_EQ(fclose(f), 0);
}

uint64_t get_u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void put_u64le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

// A safetensors file taken apart with jansson alone (the independent reader).
struct StFile {
    json_t *header = nullptr;  // owned
    Bytes data;
    ~StFile() { json_decref(header); }
};

bool parse_st(const Bytes &file, StFile *st, std::string *why)
{
    if (file.size() < 8) {
        *why = "shorter than 8 bytes";
        return false;
    }
    uint64_t n = get_u64le(file.data());
    if (n > file.size() - 8) {
        *why = "header length beyond the file";
        return false;
    }
    json_error_t jerr;
    st->header = json_loadb(reinterpret_cast<const char *>(file.data()) + 8, n, 0, &jerr);
    if (!st->header) {
        *why = std::string("JSON: ") + jerr.text;
        return false;
    }
    st->data.assign(file.begin() + 8 + (long)n, file.end());
    return true;
}

// Serialises header + data, padding the header with spaces to a multiple of 8.
Bytes unparse_st(json_t *header, const Bytes &data)
{
    char *s = json_dumps(header, JSON_COMPACT);
    std::string h(s);
    free(s);
    while (h.size() % 8)
        h += ' ';
    Bytes out(8);
    put_u64le(out.data(), h.size());
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

// Rewrites every tensor's data contiguously in header order (after entries were removed or
// added), taking each tensor's bytes from its current data_offsets.
void repack(StFile *st)
{
    Bytes data;
    const char *key;
    json_t *val;
    json_object_foreach(st->header, key, val) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        json_t *offs = json_object_get(val, "data_offsets");
        size_t b = (size_t)json_integer_value(json_array_get(offs, 0));
        size_t e = (size_t)json_integer_value(json_array_get(offs, 1));
        size_t at = data.size();
        data.insert(data.end(), st->data.begin() + (long)b, st->data.begin() + (long)e);
        json_array_set_new(offs, 0, json_integer((json_int_t)at));
        json_array_set_new(offs, 1, json_integer((json_int_t)data.size()));
    }
    st->data = data;
}

mgpt_config small_config()
{
    mgpt_config c;
    c.vocab_size = 27;
    c.n_embd = 16;
    c.n_head = 4;
    c.n_layer = 2;
    c.block_size = 8;
    return c;
}

mgpt_vocab vocab_az(int size)
{
    unsigned char bytes[256];
    for (int i = 0; i < size - 1; i++)
        bytes[i] = (unsigned char)('a' + i);
    mgpt_vocab v;
    EXPECT_EQ(mgpt_vocab_from_bytes(&v, bytes, size - 1), 0);
    return v;
}

// The model's parameter table, Adam state and step, to check that a failed load left it alone.
struct Snapshot {
    std::vector<float> data, m, v;
    long step;
    explicit Snapshot(const mgpt_model *mod)
        : data(mod->param_mem, mod->param_mem + mod->num_floats),
          m(mod->m_mem, mod->m_mem + mod->num_floats),
          v(mod->v_mem, mod->v_mem + mod->num_floats), step(mod->step) {}
    bool same_as(const mgpt_model *mod) const
    {
        size_t bytes = mod->num_floats * sizeof(float);
        return mod->num_floats == data.size() && step == mod->step &&
               memcmp(data.data(), mod->param_mem, bytes) == 0 &&
               memcmp(m.data(), mod->m_mem, bytes) == 0 &&
               memcmp(v.data(), mod->v_mem, bytes) == 0;
    }
};

bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != nullptr;
}

class Checkpoint : public ::testing::Test {
protected:
    std::string dir;
    mgpt_config cfg = small_config();
    mgpt_vocab vocab = vocab_az(27);
    mgpt_model *a = nullptr, *b = nullptr;
    char err[1024] = "";

    void SetUp() override
    {
        const char *base = getenv("MGPT_TEST_TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ckpt-test.XXXXXX";
        std::vector<char> t(tmpl.begin(), tmpl.end());
        t.push_back('\0');
        ASSERT_NE(mkdtemp(t.data()), nullptr) << tmpl << ": " << strerror(errno);
        dir = t.data();
        a = make_model(cfg, 42);
        b = make_model(cfg, 7);
        ASSERT_NE(a, nullptr);
        ASSERT_NE(b, nullptr);
        fill_adam(a, 1);
        fill_adam(b, 2);
        a->step = 123;
        b->step = 5;
    }

    void TearDown() override
    {
        mgpt_model_free(a);
        mgpt_model_free(b);
        if (!dir.empty()) {
            chmod(dir.c_str(), 0755);
            std::string cmd = "rm -rf '" + dir + "'";
            EXPECT_EQ(system(cmd.c_str()), 0);
        }
    }

    mgpt_model *make_model(const mgpt_config &c, uint64_t seed)
    {
        char e[512] = "";
        // The checkpoint needs no forward pass, but a model is made with the compute it
        // would run on: the scalar backend's.
        const mgpt_compute *k = mgpt_test::ScalarBackend::get().compute();
        EXPECT_NE(k, nullptr) << mgpt_test::ScalarBackend::get().why();
        if (!k)
            return nullptr;
        mgpt_model *m = mgpt_model_create(&c, 1, k, e, sizeof e);
        EXPECT_NE(m, nullptr) << e;
        if (m)
            mgpt_model_init(m, seed);
        return m;
    }

    // Arbitrary Adam state, including values a text format would mangle.
    static void fill_adam(mgpt_model *m, int salt)
    {
        for (size_t i = 0; i < m->num_floats; i++) {
            m->m_mem[i] = (float)((double)(i % 97) * 1e-3 * salt - 0.05);
            m->v_mem[i] = (float)((double)(i % 89) * 1e-7 * salt) + 1e-38f * 0.001f;
        }
        m->m_mem[0] = -0.0f;
        m->param_mem[2] = 1e-45f;  // the smallest subnormal (NaN and Inf are refused on load)
    }

    std::string path(const char *name) const { return dir + "/" + name; }

    std::string saved(bool with_adam = true, const char *name = "model.safetensors")
    {
        std::string p = path(name);
        EXPECT_EQ(mgpt_checkpoint_save(p.c_str(), a, &vocab, 42, with_adam, err, sizeof err), 0)
            << err;
        return p;
    }

    // Loading p into b must fail with a message naming the file and containing want; b and
    // peek are checked too.
    void expect_rejected(const std::string &p, const char *want, int want_adam = 1)
    {
        Snapshot before(b);
        err[0] = '\0';
        EXPECT_EQ(mgpt_checkpoint_load(p.c_str(), b, want_adam, err, sizeof err), -1);
        EXPECT_TRUE(contains(err, p.c_str())) << "message does not name the file: " << err;
        EXPECT_TRUE(contains(err, want)) << "expected \"" << want << "\" in: " << err;
        EXPECT_TRUE(before.same_as(b)) << "a failed load changed the model";
    }

    // Saves a, lets mutate change the parsed header/data, writes the result as bad.st.
    std::string mutated(const std::function<void(StFile *)> &mutate)
    {
        std::string good = saved();
        StFile st;
        std::string why;
        EXPECT_TRUE(parse_st(read_file(good), &st, &why)) << why;
        mutate(&st);
        std::string p = path("bad.st");
        write_file(p, unparse_st(st.header, st.data));
        return p;
    }

    std::string with_meta(const char *key, const char *value)
    {
        return mutated([&](StFile *st) {
            json_t *meta = json_object_get(st->header, "__metadata__");
            if (value)
                json_object_set_new(meta, key, json_string(value));
            else
                json_object_del(meta, key);
        });
    }

    std::string with_entry(const char *name, const char *field, json_t *value)
    {
        return mutated([&](StFile *st) {
            json_object_set_new(json_object_get(st->header, name), field, value);
        });
    }
};

void expect_same_model(const mgpt_model *x, const mgpt_model *y, bool adam)
{
    ASSERT_EQ(x->n_params, y->n_params);
    for (int i = 0; i < x->n_params; i++) {
        const mgpt_param *p = &x->params[i], *q = &y->params[i];
        size_t bytes = (size_t)p->rows * p->cols * sizeof(float);
        EXPECT_EQ(memcmp(p->data, q->data, bytes), 0) << p->name;
        if (adam) {
            EXPECT_EQ(memcmp(p->m, q->m, bytes), 0) << "adam.m." << p->name;
            EXPECT_EQ(memcmp(p->v, q->v, bytes), 0) << "adam.v." << p->name;
        }
    }
    if (adam) {
        EXPECT_EQ(x->step, y->step);
    }
}

TEST_F(Checkpoint, RoundTripIsBitwiseWithAdam)
{
    std::string p = saved(true);
    ASSERT_EQ(mgpt_checkpoint_load(p.c_str(), b, 1, err, sizeof err), 0) << err;
    expect_same_model(a, b, true);
    EXPECT_EQ(b->step, 123);
}

TEST_F(Checkpoint, RoundTripWithoutAdamLoadsParamsOnly)
{
    std::string p = saved(false);
    Snapshot before(b);
    ASSERT_EQ(mgpt_checkpoint_load(p.c_str(), b, 0, err, sizeof err), 0) << err;
    expect_same_model(a, b, false);
    EXPECT_EQ(memcmp(before.m.data(), b->m_mem, b->num_floats * sizeof(float)), 0);
    EXPECT_EQ(b->step, 5);  // step belongs to the optimizer state

    mgpt_model_init(b, 7);
    expect_rejected(p, "Adam", 1);
}

TEST_F(Checkpoint, AdamFileLoadsWithoutAdam)
{
    std::string p = saved(true);
    ASSERT_EQ(mgpt_checkpoint_load(p.c_str(), b, 0, err, sizeof err), 0) << err;
    expect_same_model(a, b, false);
    EXPECT_EQ(b->step, 5);
}

TEST_F(Checkpoint, SaveReplacesAnExistingFile)
{
    std::string p = saved(true);
    mgpt_model_init(a, 99);
    saved(false);
    ASSERT_EQ(mgpt_checkpoint_load(p.c_str(), b, 0, err, sizeof err), 0) << err;
    expect_same_model(a, b, false);
    mgpt_checkpoint_meta meta;
    ASSERT_EQ(mgpt_checkpoint_peek(p.c_str(), &meta, err, sizeof err), 0) << err;
    EXPECT_EQ(meta.has_adam, 0);
}

TEST_F(Checkpoint, PeekReturnsConfigVocabStepSeed)
{
    unsigned char bytes[26];
    for (int i = 0; i < 26; i++)
        bytes[i] = (unsigned char)(i == 0 ? '\n' : i == 25 ? 0xff : 'a' + i);
    ASSERT_EQ(mgpt_vocab_from_bytes(&vocab, bytes, 26), 0);
    std::string p = saved(true);

    mgpt_checkpoint_meta meta;
    memset(&meta, 0x5a, sizeof meta);
    ASSERT_EQ(mgpt_checkpoint_peek(p.c_str(), &meta, err, sizeof err), 0) << err;
    EXPECT_EQ(meta.cfg.vocab_size, 27);
    EXPECT_EQ(meta.cfg.n_embd, 16);
    EXPECT_EQ(meta.cfg.n_head, 4);
    EXPECT_EQ(meta.cfg.n_layer, 2);
    EXPECT_EQ(meta.cfg.block_size, 8);
    EXPECT_EQ(meta.vocab.size, 27);
    for (int i = 1; i < 27; i++) {
        EXPECT_EQ(meta.vocab.byte[i], bytes[i - 1]) << "id " << i;
        EXPECT_EQ(meta.vocab.id[bytes[i - 1]], i);
    }
    EXPECT_EQ(meta.vocab.id['a'], -1);
    EXPECT_EQ(meta.step, 123);
    EXPECT_EQ(meta.seed, 42u);
    EXPECT_EQ(meta.has_adam, 1);

    saved(false);
    ASSERT_EQ(mgpt_checkpoint_peek(p.c_str(), &meta, err, sizeof err), 0) << err;
    EXPECT_EQ(meta.has_adam, 0);
}

TEST_F(Checkpoint, LargeSeedAndStepSurvive)
{
    a->step = 2147483647L * 3;
    std::string p = path("big.st");
    ASSERT_EQ(mgpt_checkpoint_save(p.c_str(), a, &vocab, UINT64_MAX, 1, err, sizeof err), 0) << err;
    mgpt_checkpoint_meta meta;
    ASSERT_EQ(mgpt_checkpoint_peek(p.c_str(), &meta, err, sizeof err), 0) << err;
    EXPECT_EQ(meta.seed, UINT64_MAX);
    EXPECT_EQ(meta.step, 2147483647L * 3);
}

// The file as an independent reader (jansson + byte arithmetic) sees it.
TEST_F(Checkpoint, FileIsPlainSafetensors)
{
    std::string p = saved(true);
    Bytes file = read_file(p);
    ASSERT_GE(file.size(), 8u);
    uint64_t n = get_u64le(file.data());
    EXPECT_EQ(n % 8, 0u) << "header not padded to 8 bytes";
    ASSERT_LE(n, file.size() - 8);
    EXPECT_EQ(file[8], '{');
    for (uint64_t i = 8 + n; i > 8 && file[i - 1] != '}'; i--)
        EXPECT_EQ(file[i - 1], ' ') << "header padding must be spaces";

    StFile st;
    std::string why;
    ASSERT_TRUE(parse_st(file, &st, &why)) << why;
    ASSERT_TRUE(json_is_object(st.header));

    json_t *meta = json_object_get(st.header, "__metadata__");
    ASSERT_TRUE(json_is_object(meta));
    auto meta_str = [&](const char *k) {
        json_t *v = json_object_get(meta, k);
        EXPECT_TRUE(json_is_string(v)) << k;
        return std::string(v ? json_string_value(v) : "");
    };
    EXPECT_EQ(meta_str("format"), "mgpt");
    EXPECT_EQ(meta_str("n_embd"), "16");
    EXPECT_EQ(meta_str("n_head"), "4");
    EXPECT_EQ(meta_str("n_layer"), "2");
    EXPECT_EQ(meta_str("block_size"), "8");
    EXPECT_EQ(meta_str("vocab_size"), "27");
    EXPECT_EQ(meta_str("step"), "123");
    EXPECT_EQ(meta_str("seed"), "42");
    EXPECT_EQ(meta_str("vocab"),
              "[97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,"
              "117,118,119,120,121,122]");

    // Exactly the spec's names (params then adam.m.*, adam.v.*), F32, tiling the data.
    std::vector<std::string> want = {"wte", "wpe", "lm_head"};
    const char *lp[] = {"attn_wq", "attn_wk", "attn_wv", "attn_wo", "mlp_fc1", "mlp_fc2"};
    for (int l = 0; l < 2; l++)
        for (const char *s : lp)
            want.push_back("layer" + std::to_string(l) + "." + s);
    size_t np = want.size();
    ASSERT_EQ((int)np, a->n_params);
    for (size_t i = 0; i < np; i++)
        want.push_back("adam.m." + want[i]);
    for (size_t i = 0; i < np; i++)
        want.push_back("adam.v." + want[i]);
    EXPECT_EQ(json_object_size(st.header), want.size() + 1);

    std::vector<std::pair<uint64_t, uint64_t>> spans;
    for (size_t j = 0; j < want.size(); j++) {
        json_t *e = json_object_get(st.header, want[j].c_str());
        ASSERT_TRUE(json_is_object(e)) << "missing " << want[j];
        EXPECT_STREQ(json_string_value(json_object_get(e, "dtype")), "F32") << want[j];
        const mgpt_param *prm = &a->params[j % np];
        json_t *shape = json_object_get(e, "shape");
        ASSERT_EQ(json_array_size(shape), 2u) << want[j];
        EXPECT_EQ(json_integer_value(json_array_get(shape, 0)), prm->rows) << want[j];
        EXPECT_EQ(json_integer_value(json_array_get(shape, 1)), prm->cols) << want[j];
        json_t *offs = json_object_get(e, "data_offsets");
        ASSERT_EQ(json_array_size(offs), 2u);
        uint64_t b0 = (uint64_t)json_integer_value(json_array_get(offs, 0));
        uint64_t e0 = (uint64_t)json_integer_value(json_array_get(offs, 1));
        size_t bytes = (size_t)prm->rows * prm->cols * 4;
        ASSERT_EQ(e0 - b0, bytes) << want[j];
        ASSERT_LE(e0, st.data.size()) << want[j];
        EXPECT_EQ(b0 % 4, 0u) << want[j];
        const float *src = j < np ? prm->data : j < 2 * np ? prm->m : prm->v;
        EXPECT_EQ(memcmp(st.data.data() + b0, src, bytes), 0) << want[j] << " data differ";
        spans.push_back({b0, e0});
    }
    std::sort(spans.begin(), spans.end());
    uint64_t at = 0;
    for (auto &s : spans) {
        EXPECT_EQ(s.first, at) << "hole or overlap";
        at = s.second;
    }
    EXPECT_EQ(at, st.data.size()) << "data not fully covered";

    // Little-endian F32 spelled out for one value.
    json_t *wte = json_object_get(st.header, "wte");
    uint64_t off = (uint64_t)json_integer_value(json_array_get(json_object_get(wte, "data_offsets"), 0));
    const unsigned char *q = st.data.data() + off + 4 * 5;
    uint32_t bits = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    float f;
    memcpy(&f, &bits, 4);
    EXPECT_EQ(f, a->params[0].data[5]);
}

TEST_F(Checkpoint, SavedFileHasNormalMode)
{
    std::string p = saved();
    struct stat sb;
    ASSERT_EQ(stat(p.c_str(), &sb), 0);
    mode_t mask = umask(0);
    umask(mask);
    EXPECT_EQ(sb.st_mode & 0777, 0666 & ~mask);
}

TEST_F(Checkpoint, TruncatedFilesAreRejected)
{
    std::string good = saved();
    Bytes file = read_file(good);
    uint64_t n = get_u64le(file.data());
    std::vector<size_t> cuts = {0, 1, 7, 8, 9, 8 + (size_t)n / 2, 8 + (size_t)n - 1, 8 + (size_t)n,
                                8 + (size_t)n + 1, 8 + (size_t)n + 64, file.size() / 2,
                                file.size() - 4, file.size() - 1};
    std::string p = path("cut.st");
    for (size_t cut : cuts) {
        SCOPED_TRACE("truncated to " + std::to_string(cut) + " of " + std::to_string(file.size()));
        write_file(p, Bytes(file.begin(), file.begin() + (long)cut));
        expect_rejected(p, "", 0);
        mgpt_checkpoint_meta meta;
        EXPECT_EQ(mgpt_checkpoint_peek(p.c_str(), &meta, err, sizeof err), -1);
    }
    write_file(p, Bytes(file.begin(), file.begin() + 5));
    expect_rejected(p, "too short");
    write_file(p, Bytes(file.begin(), file.begin() + 8 + (long)n / 2));
    expect_rejected(p, "past the end");
    write_file(p, Bytes(file.begin(), file.end() - 1));
    expect_rejected(p, "truncated");

    Bytes longer = file;
    longer.push_back(0);
    write_file(p, longer);
    expect_rejected(p, "trailing");
}

TEST_F(Checkpoint, MissingFileIsRejected)
{
    expect_rejected(path("nope.st"), "No such file");
}

TEST_F(Checkpoint, AbsurdHeaderLengthIsRejected)
{
    Bytes file = read_file(saved());
    std::string p = path("bad.st");
    put_u64le(file.data(), 1ull << 40);
    write_file(p, file);
    expect_rejected(p, "absurd");
    put_u64le(file.data(), 0);
    write_file(p, file);
    expect_rejected(p, "absurd");
    put_u64le(file.data(), file.size());
    write_file(p, file);
    expect_rejected(p, "past the end");
}

TEST_F(Checkpoint, CorruptHeaderJsonIsRejected)
{
    Bytes file = read_file(saved());
    std::string p = path("bad.st");
    Bytes c = file;
    c[8] = 'x';
    write_file(p, c);
    expect_rejected(p, "'{'");

    c = file;
    std::string h(file.begin() + 8, file.begin() + 8 + (long)get_u64le(file.data()));
    c[8 + h.find(':')] = ',';  // {"__metadata__",{...
    write_file(p, c);
    expect_rejected(p, "not valid JSON");

    c = file;
    uint64_t n = get_u64le(c.data());
    c[8 + n - 1] = '!';  // garbage in the padding after the object
    write_file(p, c);
    expect_rejected(p, "not valid JSON");

    // Valid JSON, not an object.
    std::string arr = "[1,2,3] ";
    Bytes d(8);
    put_u64le(d.data(), arr.size());
    d.insert(d.end(), arr.begin(), arr.end());
    write_file(p, d);
    expect_rejected(p, "'{'");
}

TEST_F(Checkpoint, DuplicateTensorIsRejected)
{
    Bytes file = read_file(saved());
    uint64_t n = get_u64le(file.data());
    std::string h(file.begin() + 8, file.begin() + 8 + (long)n);
    size_t at = h.find("\"wte\":");
    ASSERT_NE(at, std::string::npos);
    size_t end = h.find('}', at);
    std::string dup = h.substr(at, end + 1 - at) + ",";
    h.insert(1, dup);
    while (h.size() % 8)
        h += ' ';
    Bytes c(8);
    put_u64le(c.data(), h.size());
    c.insert(c.end(), h.begin(), h.end());
    c.insert(c.end(), file.begin() + 8 + (long)n, file.end());
    std::string p = path("bad.st");
    write_file(p, c);
    expect_rejected(p, "duplicate");
}

TEST_F(Checkpoint, WrongDtypeIsRejected)
{
    // Same byte size as F32: only the mgpt check can object.
    expect_rejected(with_entry("layer1.mlp_fc1", "dtype", json_string("I32")), "F32 only");
    // A dtype whose size disagrees with the offsets.
    expect_rejected(with_entry("wte", "dtype", json_string("F16")), "data_offsets");
    expect_rejected(with_entry("wte", "dtype", json_string("F33")), "unknown dtype");
    expect_rejected(with_entry("wte", "dtype", json_integer(4)), "dtype");
    // F16 of the same bytes: a valid safetensors file, not an mgpt checkpoint.
    expect_rejected(mutated([](StFile *st) {
                        json_t *e = json_object_get(st->header, "adam.v.wpe");
                        json_object_set_new(e, "dtype", json_string("F16"));
                        json_object_set_new(e, "shape", json_pack("[i,i]", 8, 32));
                    }),
                    "F32 only");
}

TEST_F(Checkpoint, WrongShapeIsRejected)
{
    expect_rejected(with_entry("wte", "shape", json_pack("[i,i]", 16, 27)), "expected [27, 16]");
    expect_rejected(with_entry("layer0.mlp_fc1", "shape", json_pack("[i,i,i]", 64, 16, 1)),
                    "expected [64, 16]");
    expect_rejected(with_entry("adam.m.layer1.mlp_fc2", "shape", json_pack("[i]", 16 * 64)),
                    "expected [16, 64]");
    expect_rejected(with_entry("wpe", "shape", json_pack("[i,i]", 8, 17)), "data_offsets");
    expect_rejected(with_entry("wpe", "shape", json_pack("[i,i]", -8, -16)), "shape");
    expect_rejected(with_entry("wpe", "shape", json_string("8x16")), "shape");
}

TEST_F(Checkpoint, BadOffsetsAreRejected)
{
    auto offsets = [&](const char *name, json_int_t b0, json_int_t e0) {
        return with_entry(name, "data_offsets", json_pack("[I,I]", b0, e0));
    };
    Bytes file = read_file(saved());
    StFile st;
    std::string why;
    ASSERT_TRUE(parse_st(file, &st, &why)) << why;
    json_t *o = json_object_get(json_object_get(st.header, "layer0.attn_wq"), "data_offsets");
    json_int_t qb = json_integer_value(json_array_get(o, 0)), qe = json_integer_value(json_array_get(o, 1));
    json_int_t total = (json_int_t)st.data.size();

    expect_rejected(offsets("layer0.attn_wk", qb, qe), "overlap");
    expect_rejected(offsets("adam.v.layer1.mlp_fc2", total, total + 16 * 64 * 4), "beyond");
    expect_rejected(offsets("layer0.attn_wq", qb, qe - 4), "data_offsets");
    expect_rejected(offsets("layer0.attn_wq", qe, qb), "data_offsets");
    expect_rejected(offsets("layer0.attn_wq", -4, qe - qb - 4), "data_offsets");
    expect_rejected(with_entry("wte", "data_offsets", json_pack("[i]", 0)), "data_offsets");
    expect_rejected(mutated([](StFile *st) { json_object_del(json_object_get(st->header, "wte"),
                                                             "data_offsets"); }),
                    "data_offsets");
}

TEST_F(Checkpoint, MissingTensorIsRejected)
{
    expect_rejected(mutated([](StFile *st) {
                        json_object_del(st->header, "layer1.attn_wv");
                        repack(st);
                    }),
                    "no tensor 'layer1.attn_wv'");
    // Removed without repacking: its bytes are now a hole.
    expect_rejected(mutated([](StFile *st) { json_object_del(st->header, "lm_head"); }),
                    "belong to no tensor");
    // Incomplete Adam state.
    expect_rejected(mutated([](StFile *st) {
                        json_object_del(st->header, "adam.v.layer0.attn_wo");
                        repack(st);
                    }),
                    "adam.v.layer0.attn_wo");
}

TEST_F(Checkpoint, ExtraTensorIsRejected)
{
    for (const char *extra : {"layer2.attn_wq", "layer01.attn_wq", "bias", "adam.m.bias",
                              "adam.m.adam.v.wte", "layer0.attn_wqkv"}) {
        SCOPED_TRACE(extra);
        expect_rejected(mutated([&](StFile *st) {
                            json_t *src = json_object_get(st->header, "layer0.attn_wq");
                            json_object_set_new(st->header, extra, json_deep_copy(src));
                            repack(st);
                        }),
                        "unexpected tensor");
    }
}

TEST_F(Checkpoint, BadMetadataIsRejected)
{
    expect_rejected(mutated([](StFile *st) { json_object_del(st->header, "__metadata__"); }),
                    "__metadata__");
    expect_rejected(with_entry("__metadata__", "n_embd", json_integer(16)), "not a string");
    expect_rejected(mutated([](StFile *st) {
                        json_object_set_new(st->header, "__metadata__", json_string("mgpt"));
                    }),
                    "__metadata__");
    expect_rejected(with_meta("format", nullptr), "format");
    expect_rejected(with_meta("format", "gguf"), "\"mgpt\"");
    for (const char *key : {"n_embd", "n_head", "n_layer", "block_size", "vocab_size", "vocab"}) {
        SCOPED_TRACE(key);
        expect_rejected(with_meta(key, nullptr), key);
    }
    for (const char *bad : {"", "abc", "-16", "+16", "16.0", " 16", "0x10", "99999999999999999999"}) {
        SCOPED_TRACE(bad);
        expect_rejected(with_meta("n_embd", bad), "decimal");
    }
    expect_rejected(with_meta("n_embd", "2147483648"), "decimal");
    expect_rejected(with_meta("n_embd", "0"), "n_embd 0 is out of range");
    expect_rejected(with_meta("n_embd", "18"), "not divisible");
    expect_rejected(with_meta("n_embd", "32"), "expected [27, 32]");
    expect_rejected(with_meta("n_layer", "3"), "no tensor 'layer2.attn_wq'");
    expect_rejected(with_meta("n_layer", "1"), "unexpected tensor 'layer1.attn_wq'");
    expect_rejected(with_meta("block_size", "9"), "expected [9, 16]");
    expect_rejected(with_meta("vocab_size", "70000"), "vocab_size 70000 is out of range");
    // above 257 only with a BPE tokenizer (docs/model.md, "BPE checkpoints")
    expect_rejected(with_meta("vocab_size", "300"), "has no \"tokenizer\"");
    expect_rejected(with_meta("vocab_size", "26"), "vocab");
    expect_rejected(with_meta("step", "-1"), "step");
    expect_rejected(with_meta("step", "ten"), "step");
    expect_rejected(with_meta("seed", "18446744073709551616"), "seed");
}

TEST_F(Checkpoint, BadTokenizerMetadataIsRejected)
{
    // a char checkpoint (vocab_size 27) with merges that make another vocabulary
    expect_rejected(with_meta("tokenizer", "mgpt-bpe 1\nvocab_size 258\n98 99\n"),
                    "\"tokenizer\" has vocab_size 258 but the checkpoint's vocab_size is 27");
    expect_rejected(with_meta("tokenizer", "mgpt-bpe 1\nvocab_size 258\n"), "tokenizer");
    expect_rejected(with_meta("tokenizer", "junk"), "tokenizer");
}

TEST_F(Checkpoint, BadVocabIsRejected)
{
    expect_rejected(with_meta("vocab", "[97,98"), "not a JSON array");
    expect_rejected(with_meta("vocab", "abc"), "not a JSON array");
    expect_rejected(with_meta("vocab", "{\"a\":1}"), "not a JSON array");
    expect_rejected(with_meta("vocab", "[97,98,99]"), "expected vocab_size - 1 = 26");
    std::string ok = "[";
    for (int i = 0; i < 26; i++)
        ok += (i ? "," : "") + std::to_string(97 + i);
    ok += "]";
    std::string swapped = ok;
    swapped.replace(1, 5, "98,97");
    expect_rejected(with_meta("vocab", swapped.c_str()), "strictly ascending");
    std::string dup = ok;
    dup.replace(1, 5, "98,98");
    expect_rejected(with_meta("vocab", dup.c_str()), "strictly ascending");
    std::string big = ok;
    big.replace(big.size() - 4, 3, "256");
    expect_rejected(with_meta("vocab", big.c_str()), "0..255");
    std::string str = ok;
    str.replace(1, 2, "\"a\"");
    expect_rejected(with_meta("vocab", str.c_str()), "0..255");
    std::string neg = ok;
    neg.replace(1, 2, "-1");
    expect_rejected(with_meta("vocab", neg.c_str()), "0..255");
}

TEST_F(Checkpoint, ConfigMismatchIsRejected)
{
    mgpt_config other = cfg;
    other.n_layer = 1;
    mgpt_model *c = make_model(other, 3);
    ASSERT_NE(c, nullptr);
    std::string p = path("small.st");
    ASSERT_EQ(mgpt_checkpoint_save(p.c_str(), c, &vocab, 1, 1, err, sizeof err), 0) << err;
    mgpt_model_free(c);
    expect_rejected(p, "differs from the model");
}

TEST_F(Checkpoint, LoadAcceptsAnyTensorOrder)
{
    // Another writer may order tensors differently (the reference sorts them).
    std::string p = mutated([](StFile *st) {
        json_t *h = json_object();
        std::vector<std::string> keys;
        const char *key;
        json_t *val;
        json_object_foreach(st->header, key, val) keys.push_back(key);
        std::sort(keys.begin(), keys.end());
        for (auto &k : keys)
            json_object_set(h, k.c_str(), json_object_get(st->header, k.c_str()));
        json_decref(st->header);
        st->header = h;
        repack(st);
    });
    ASSERT_EQ(mgpt_checkpoint_load(p.c_str(), b, 1, err, sizeof err), 0) << err;
    expect_same_model(a, b, true);
}

TEST_F(Checkpoint, SaveRejectsVocabOfWrongSize)
{
    mgpt_vocab v = vocab_az(20);
    std::string p = path("v.st");
    EXPECT_EQ(mgpt_checkpoint_save(p.c_str(), a, &v, 1, 0, err, sizeof err), -1);
    EXPECT_TRUE(contains(err, "vocab_size")) << err;
    EXPECT_NE(access(p.c_str(), F_OK), 0);
}

std::vector<std::string> list_dir(const std::string &d)
{
    std::vector<std::string> names;
    DIR *dp = opendir(d.c_str());
    if (!dp)
        return names;
    while (struct dirent *e = readdir(dp))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
            names.push_back(e->d_name);
    closedir(dp);
    std::sort(names.begin(), names.end());
    return names;
}

TEST_F(Checkpoint, FailedSaveLeavesExistingFileIntact)
{
    std::string p = saved();
    Bytes original = read_file(p);
    mgpt_model_init(a, 1234);  // so that a successful save would change the bytes

    // Into a folder that does not exist.
    std::string q = path("missing/model.safetensors");
    EXPECT_EQ(mgpt_checkpoint_save(q.c_str(), a, &vocab, 1, 1, err, sizeof err), -1);
    EXPECT_TRUE(contains(err, q.c_str())) << err;
    EXPECT_TRUE(contains(err, "No such file")) << err;

    // Over a directory: refused before a temporary file is made.
    std::string sub = path("subdir");
    ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
    EXPECT_EQ(mgpt_checkpoint_save(sub.c_str(), a, &vocab, 1, 1, err, sizeof err), -1);
    EXPECT_TRUE(contains(err, "folder")) << err;
    struct stat sb;
    ASSERT_EQ(stat(sub.c_str(), &sb), 0);
    EXPECT_TRUE(S_ISDIR(sb.st_mode));
    EXPECT_EQ(list_dir(dir), (std::vector<std::string>{"model.safetensors", "subdir"}))
        << "a temporary file was left behind";

    // In a read-only folder (root ignores the permission, so only as a normal user).
    if (geteuid() != 0) {
        ASSERT_EQ(chmod(dir.c_str(), 0555), 0);
        EXPECT_EQ(mgpt_checkpoint_save(p.c_str(), a, &vocab, 1, 1, err, sizeof err), -1);
        EXPECT_TRUE(contains(err, "Permission denied")) << err;
        ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
    }
    EXPECT_EQ(read_file(p), original);
    EXPECT_EQ(list_dir(dir), (std::vector<std::string>{"model.safetensors", "subdir"}));
}

TEST_F(Checkpoint, SaveToRelativePathInCurrentFolder)
{
    char cwd[4096];
    ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
    ASSERT_EQ(chdir(dir.c_str()), 0);
    int rc = mgpt_checkpoint_save("rel.st", a, &vocab, 1, 0, err, sizeof err);
    int rc2 = mgpt_checkpoint_load("rel.st", b, 0, err, sizeof err);
    ASSERT_EQ(chdir(cwd), 0);
    ASSERT_EQ(rc, 0) << err;
    ASSERT_EQ(rc2, 0) << err;
    expect_same_model(a, b, false);
    EXPECT_EQ(list_dir(dir), (std::vector<std::string>{"rel.st"}));
}

}  // namespace

// Extra metadata (training settings, a note) rides beside the spec's keys and can be
// read back; the spec's own keys cannot be overridden through it.
TEST_F(Checkpoint, ExtraMetadataRoundTripsAndCannotShadowSpecKeys)
{
    std::string p = path("extra.safetensors");
    const char *keys[] = {"train", "note"};
    const char *values[] = {"{\"batch_size\":4}", "bytes"};
    ASSERT_EQ(mgpt_checkpoint_save_extra(p.c_str(), a, &vocab, 42, 1, keys, values, 2, err,
                                         sizeof err), 0) << err;
    char *v = nullptr;
    ASSERT_EQ(mgpt_checkpoint_meta_value(p.c_str(), "train", &v, err, sizeof err), 0) << err;
    ASSERT_NE(v, nullptr);
    EXPECT_STREQ(v, "{\"batch_size\":4}");
    free(v);
    ASSERT_EQ(mgpt_checkpoint_meta_value(p.c_str(), "absent", &v, err, sizeof err), 0) << err;
    EXPECT_EQ(v, nullptr);
    ASSERT_EQ(mgpt_checkpoint_load(p.c_str(), b, 1, err, sizeof err), 0) << err;
    expect_same_model(a, b, true);

    const char *bad[] = {"step"};
    EXPECT_EQ(mgpt_checkpoint_save_extra(p.c_str(), a, &vocab, 42, 1, bad, values, 1, err,
                                         sizeof err), -1);
    EXPECT_NE(strstr(err, "reserved"), nullptr) << err;
    // "tokenizer" is written from a BPE vocabulary only (docs/model.md, "BPE checkpoints")
    const char *tok[] = {"tokenizer"};
    EXPECT_EQ(mgpt_checkpoint_save_extra(p.c_str(), a, &vocab, 42, 1, tok, values, 1, err,
                                         sizeof err), -1);
    EXPECT_NE(strstr(err, "reserved"), nullptr) << err;
    const char *twice[] = {"train", "train"};
    EXPECT_EQ(mgpt_checkpoint_save_extra(p.c_str(), a, &vocab, 42, 1, twice, values, 2, err,
                                         sizeof err), -1);
    ASSERT_EQ(mgpt_checkpoint_meta_value(p.c_str(), "note", &v, err, sizeof err), 0);
    EXPECT_STREQ(v, "bytes");  // the refused saves left the file as it was
    free(v);
}

// The extras can be listed (what mgpt export copies into a weights-only file), without the
// spec's keys; a file with none lists none.
TEST_F(Checkpoint, ExtraMetadataIsListedWithoutTheSpecKeys)
{
    std::string p = path("extra.safetensors");
    const char *keys[] = {"train", "note"};
    const char *values[] = {"{\"batch-size\":4}", "bytes"};
    ASSERT_EQ(mgpt_checkpoint_save_extra(p.c_str(), a, &vocab, 42, 1, keys, values, 2, err,
                                         sizeof err), 0) << err;
    char **k = nullptr, **v = nullptr;
    int n = -1;
    ASSERT_EQ(mgpt_checkpoint_extra_meta(p.c_str(), &k, &v, &n, err, sizeof err), 0) << err;
    ASSERT_EQ(n, 2);
    EXPECT_STREQ(k[0], "train");
    EXPECT_STREQ(v[0], values[0]);
    EXPECT_STREQ(k[1], "note");
    EXPECT_STREQ(v[1], "bytes");
    mgpt_checkpoint_extra_free(k, v, n);

    ASSERT_EQ(mgpt_checkpoint_save(p.c_str(), a, &vocab, 42, 0, err, sizeof err), 0) << err;
    ASSERT_EQ(mgpt_checkpoint_extra_meta(p.c_str(), &k, &v, &n, err, sizeof err), 0) << err;
    EXPECT_EQ(n, 0);
    mgpt_checkpoint_extra_free(k, v, n);
    const std::string junk = "not a checkpoint";
    write_file(p, Bytes(junk.begin(), junk.end()));
    EXPECT_EQ(mgpt_checkpoint_extra_meta(p.c_str(), &k, &v, &n, err, sizeof err), -1);
    EXPECT_EQ(n, 0);
}

namespace {

// The byte range of tensor name's data in a parsed file.
std::pair<uint64_t, uint64_t> data_range(const StFile &st, const char *name)
{
    json_t *offs = json_object_get(json_object_get(st.header, name), "data_offsets");
    return {(uint64_t)json_integer_value(json_array_get(offs, 0)),
            (uint64_t)json_integer_value(json_array_get(offs, 1))};
}

}  // namespace

// The checksum is XXH3-64 of each tensor's bytes, as 16 hex digits in metadata "data_xxh3"
// (checked here with libxxhash directly, not through mgpt's code).
TEST_F(Checkpoint, MetadataHoldsEachTensorsXxh3)
{
    StFile st;
    std::string why;
    ASSERT_TRUE(parse_st(read_file(saved(true)), &st, &why)) << why;
    json_t *meta = json_object_get(st.header, "__metadata__");
    const char *v = json_string_value(json_object_get(meta, "data_xxh3"));
    ASSERT_NE(v, nullptr);
    json_t *sums = json_loads(v, 0, nullptr);
    ASSERT_TRUE(json_is_object(sums)) << v;
    EXPECT_EQ(json_object_size(sums), json_object_size(st.header) - 1) << "one per tensor";
    for (const char *name : {"wte", "layer0.mlp_fc2", "adam.v.lm_head"}) {
        auto r = data_range(st, name);
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx",
                 (unsigned long long)XXH3_64bits(st.data.data() + r.first, r.second - r.first));
        EXPECT_STREQ(json_string_value(json_object_get(sums, name)), hex) << name;
    }
    json_decref(sums);
}

TEST_F(Checkpoint, FlippedBitIsRejectedNamingTheTensor)
{
    for (const char *name : {"wpe", "layer1.attn_wv", "adam.m.wte"}) {
        std::string p = mutated([&](StFile *st) {
            auto r = data_range(*st, name);
            st->data[r.first + (r.second - r.first) / 2] ^= 0x10;  // one bit, mid-tensor
        });
        expect_rejected(p, "corrupted");
        expect_rejected(p, name);
    }
}

TEST_F(Checkpoint, FileWithoutChecksumLoads)
{
    std::string p = with_meta("data_xxh3", nullptr);
    mgpt_checkpoint_meta meta;
    ASSERT_EQ(mgpt_checkpoint_peek(p.c_str(), &meta, err, sizeof err), 0) << err;
    EXPECT_EQ(meta.has_checksum, 0);
    ASSERT_EQ(mgpt_checkpoint_load(p.c_str(), b, 1, err, sizeof err), 0) << err;
    expect_same_model(a, b, true);
    ASSERT_EQ(mgpt_checkpoint_peek(saved().c_str(), &meta, err, sizeof err), 0) << err;
    EXPECT_EQ(meta.has_checksum, 1);
}

TEST_F(Checkpoint, ChecksumKeyIsReserved)
{
    const char *k[] = {"data_xxh3"}, *v[] = {"{}"};
    std::string p = path("x.st");
    EXPECT_EQ(mgpt_checkpoint_save_extra(p.c_str(), a, &vocab, 1, 1, k, v, 1, err, sizeof err), -1);
    EXPECT_TRUE(contains(err, "reserved")) << err;
}

TEST_F(Checkpoint, NonFiniteValuesAreRejectedNamingTheTensor)
{
    a->params[4].data[3] = NAN;  // layer0.attn_wk
    std::string p = saved(true, "nan.st");
    expect_rejected(p, "layer0.attn_wk");
    expect_rejected(p, "finite");
    a->params[4].data[3] = 0.5f;
    a->params[1].v[0] = INFINITY;  // Adam state of wpe: only a resume reads it
    p = saved(true, "inf.st");
    expect_rejected(p, "adam.v.wpe");
    EXPECT_EQ(mgpt_checkpoint_load(p.c_str(), b, 0, err, sizeof err), 0) << err;
}

TEST_F(Checkpoint, FifoIsRefusedWithoutBlocking)
{
    std::string p = path("fifo.st");
    ASSERT_EQ(mkfifo(p.c_str(), 0600), 0);
    alarm(30);  // a blocking open would hang here; SIGALRM turns that into a failure
    mgpt_checkpoint_meta meta;
    EXPECT_EQ(mgpt_checkpoint_peek(p.c_str(), &meta, err, sizeof err), -1);
    alarm(0);
    EXPECT_TRUE(contains(err, "FIFO")) << err;
}

TEST_F(Checkpoint, SaveKeepsTheModeOfTheFileItReplaces)
{
    std::string p = saved();
    ASSERT_EQ(chmod(p.c_str(), 0600), 0);
    saved();
    struct stat sb;
    ASSERT_EQ(stat(p.c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 07777, 0600u);
}

TEST_F(Checkpoint, ReadOnlyTargetIsRefused)
{
    std::string p = saved();
    Bytes original = read_file(p);
    ASSERT_EQ(chmod(p.c_str(), 0444), 0);
    mgpt_model_init(a, 99);
    EXPECT_EQ(mgpt_checkpoint_save(p.c_str(), a, &vocab, 1, 1, err, sizeof err), -1);
    EXPECT_TRUE(contains(err, "read-only")) << err;
    EXPECT_EQ(read_file(p), original);
}

TEST_F(Checkpoint, ConcurrentSaveIsRefused)
{
    std::string p = saved();
    Bytes original = read_file(p);
    char *lock_path = nullptr;
    int fd = mgpt_save_lock(p.c_str(), &lock_path, err, sizeof err);
    ASSERT_GE(fd, 0) << err;
    mgpt_model_init(a, 99);
    EXPECT_EQ(mgpt_checkpoint_save(p.c_str(), a, &vocab, 1, 1, err, sizeof err), -1);
    EXPECT_TRUE(contains(err, "another process is saving")) << err;
    EXPECT_EQ(read_file(p), original);
    mgpt_save_unlock(fd, lock_path);
    EXPECT_EQ(mgpt_checkpoint_save(p.c_str(), a, &vocab, 1, 1, err, sizeof err), 0) << err;
    EXPECT_EQ(list_dir(dir), (std::vector<std::string>{"model.safetensors"}))
        << "the lock file was left behind";
}

// Four processes save to one path at once: each either saves or is refused with the lock
// message, and the file is one of their complete checkpoints.
TEST_F(Checkpoint, FourWritersEachSaveOrAreRefused)
{
    std::string p = path("shared.st");
    pid_t pid[4];
    for (int i = 0; i < 4; i++) {
        pid[i] = fork();
        ASSERT_GE(pid[i], 0);
        if (pid[i] == 0) {
            char e[1024] = "";
            int bad = 0;
            for (int n = 0; n < 20; n++)
                if (mgpt_checkpoint_save(p.c_str(), a, &vocab, (uint64_t)i, 1, e, sizeof e) != 0 &&
                    !strstr(e, "another process is saving"))
                    bad = 1;
            _exit(bad);
        }
    }
    for (int i = 0; i < 4; i++) {
        int st = 0;
        ASSERT_EQ(waitpid(pid[i], &st, 0), pid[i]);
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "writer " << i << " failed otherwise";
    }
    ASSERT_EQ(mgpt_checkpoint_load(p.c_str(), b, 1, err, sizeof err), 0) << err;
    expect_same_model(a, b, true);
    for (const std::string &n : list_dir(dir))
        EXPECT_EQ(n.find(".tmp."), std::string::npos) << n;
}

// kill -9 in the middle of saves: the old file stays a complete checkpoint and no temporary
// file is left (the temporary has no name until it is complete).
TEST_F(Checkpoint, KilledSaveLeavesNoTemporary)
{
    mgpt_config big = cfg;
    big.n_embd = 128;
    big.n_head = 4;
    big.n_layer = 2;
    big.block_size = 64;
    mgpt_model *m = make_model(big, 3);
    ASSERT_NE(m, nullptr);
    std::string p = path("big.st");
    ASSERT_EQ(mgpt_checkpoint_save(p.c_str(), m, &vocab, 1, 1, err, sizeof err), 0) << err;
    for (int round = 0; round < 3; round++) {
        int fd[2];
        ASSERT_EQ(pipe(fd), 0);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            close(fd[0]);
            char e[1024];
            for (;;) {
                if (write(fd[1], "s", 1) != 1)  // a save starts
                    _exit(1);
                mgpt_checkpoint_save(p.c_str(), m, &vocab, 1, 1, e, sizeof e);
            }
        }
        close(fd[1]);
        char c;
        for (int i = 0; i < 2 + round; i++)
            ASSERT_EQ(read(fd[0], &c, 1), 1);
        kill(pid, SIGKILL);
        int st = 0;
        ASSERT_EQ(waitpid(pid, &st, 0), pid);
        close(fd[0]);
        for (const std::string &n : list_dir(dir))
            EXPECT_EQ(n.find(".tmp."), std::string::npos) << "left behind: " << n;
        mgpt_model *back = make_model(big, 5);
        ASSERT_NE(back, nullptr);
        EXPECT_EQ(mgpt_checkpoint_load(p.c_str(), back, 1, err, sizeof err), 0) << err;
        mgpt_model_free(back);
    }
    mgpt_model_free(m);
}

// A temporary a save left behind (a filesystem without O_TMPFILE, or an older mgpt) goes
// at the next save to that path, with a note.
TEST_F(Checkpoint, StaleTemporaryIsRemovedByTheNextSave)
{
    std::string p = saved();
    write_file(path(".model.safetensors.tmp.AbC123"), Bytes(100, 7));
    write_file(path(".other.st.tmp.AbC123"), Bytes(10, 7));
    saved();
    EXPECT_EQ(list_dir(dir),
              (std::vector<std::string>{".other.st.tmp.AbC123", "model.safetensors"}));
}
