import { mount } from 'svelte';
import App from './App.svelte';
import { createHost } from './host.ts';
import './styles.css';

mount(App, { target: document.getElementById('app') as HTMLElement, props: { host: createHost() } });
