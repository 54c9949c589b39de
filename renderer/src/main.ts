// The studio's page: one App over the api the preload or the serve client provides.
import './lib/csp';
import { mount } from 'svelte';
import App from './App.svelte';
import { connectApi } from './lib/api';
import { StudioState } from './lib/state/studio.svelte';
import './app.css';

const studio = new StudioState(connectApi());
mount(App, { target: document.getElementById('app')!, props: { studio } });
void studio.start();
