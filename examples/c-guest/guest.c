// A long-mode guest in freestanding C: no libc, no SSE (-mgeneral-regs-only,
// because ring-0 code is emulated on some hosts), just port I/O.
// Prints the first primes over COM1 and exits with their count.
static inline void outb(unsigned short port, unsigned char v) {
  __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline unsigned char inb(unsigned short port) {
  unsigned char v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

static void putc_serial(char c) {
  while (!(inb(0x3f8 + 5) & 0x20)) {}  // LSR.THRE
  outb(0x3f8, (unsigned char)c);
}

static void puts_serial(const char* s) {
  while (*s) putc_serial(*s++);
}

static void putu(unsigned v) {
  char buf[12];
  int i = 0;
  do { buf[i++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (i) putc_serial(buf[--i]);
}

static int is_prime(unsigned n) {
  if (n < 2) return 0;
  for (unsigned d = 2; d * d <= n; d++)
    if (n % d == 0) return 0;
  return 1;
}

void _start(void) {
  unsigned found = 0;
  puts_serial("primes below 50:");
  for (unsigned n = 2; n < 50; n++) {
    if (is_prime(n)) {
      putc_serial(' ');
      putu(n);
      found++;
    }
  }
  puts_serial("\n");
  outb(0x501, (unsigned char)found);  // exit code (found << 1) | 1
  for (;;) __asm__ volatile("hlt");
}
